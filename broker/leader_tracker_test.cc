// LeaderTracker unit tests: table-driven heartbeats at made-up times.
#include "broker/leader_tracker.h"

#include <gtest/gtest.h>

namespace cabildo::broker {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds alive_window{1000};

struct Beat {
    NodeId from;
    std::string role;
    std::uint64_t term;
    NodeId leader_id;
    int at_ms;
};

wire::NodeStatus status_of(const Beat& b) {
    wire::NodeStatus s;
    s.node_id = b.from;
    s.role = b.role;
    s.term = b.term;
    s.leader_id = b.leader_id;
    return s;
}

Clock::time_point at(int ms) {
    return Clock::time_point{} + milliseconds(ms);
}

LeaderTracker fed(const std::vector<Beat>& beats) {
    LeaderTracker tracker({1, 2, 3}, alive_window);
    for (const Beat& b : beats) tracker.observe(b.from, status_of(b), at(b.at_ms));
    return tracker;
}

TEST(LeaderTracker, LeaderAndTargets) {
    struct Case {
        std::string name;
        std::vector<Beat> beats;
        int now_ms;
        std::optional<NodeId> leader;
        std::vector<NodeId> targets;
    };
    const std::vector<Case> cases = {
        {"nothing heard: try every member", {}, 0, std::nullopt, {1, 2, 3}},
        {"leader first, then live followers",
         {{1, "follower", 3, 2, 0}, {2, "leader", 3, 2, 0}, {3, "follower", 3, 2, 0}},
         500,
         2,
         {2, 1, 3}},
        {"a silent node is not chosen",
         {{1, "follower", 3, 2, 900}, {2, "leader", 3, 2, 0}, {3, "follower", 3, 2, 900}},
         1001,
         std::nullopt,
         {1, 3}},
        {"exactly the window old is still alive", {{2, "leader", 3, 2, 0}}, 1000, 2, {2}},
        {"two say leader: the higher term wins",
         {{1, "leader", 3, 1, 0}, {2, "leader", 4, 2, 0}},
         10,
         2,
         {2, 1}},
        {"named by a follower and alive",
         {{1, "follower", 5, 3, 0}, {3, "candidate", 5, 0, 0}},
         10,
         3,
         {3, 1}},
        {"named by a follower but silent", {{1, "follower", 5, 3, 0}}, 10, std::nullopt, {1}},
        {"a non-member is ignored",
         {{9, "leader", 7, 9, 0}, {1, "follower", 7, 9, 0}},
         10,
         std::nullopt,
         {1}},
        {"everyone silent: back to every member",
         {{1, "leader", 2, 1, 0}},
         5000,
         std::nullopt,
         {1, 2, 3}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        LeaderTracker tracker = fed(c.beats);
        EXPECT_EQ(tracker.leader(at(c.now_ms)), c.leader);
        EXPECT_EQ(tracker.targets(at(c.now_ms)), c.targets);
    }
}

TEST(LeaderTracker, SourceIsStickyUntilSilent) {
    LeaderTracker tracker({1, 2, 3}, alive_window);
    EXPECT_FALSE(tracker.refresh_source(at(0)));
    EXPECT_EQ(tracker.source(), std::nullopt);

    tracker.observe(2, status_of({2, "follower", 1, 0, 0}), at(0));
    EXPECT_TRUE(tracker.refresh_source(at(0)));
    EXPECT_EQ(tracker.source(), 2u);  // no leader: the lowest live id

    tracker.observe(1, status_of({1, "leader", 2, 1, 500}), at(500));
    tracker.observe(2, status_of({2, "follower", 2, 1, 800}), at(800));
    EXPECT_FALSE(tracker.refresh_source(at(900)));
    EXPECT_EQ(tracker.source(), 2u);  // still alive: no switch, no duplicates

    tracker.observe(1, status_of({1, "leader", 2, 1, 1500}), at(1500));
    EXPECT_TRUE(tracker.refresh_source(at(1801)));
    EXPECT_EQ(tracker.source(), 1u);  // 2 went silent: the leader takes over

    EXPECT_TRUE(tracker.refresh_source(at(3000)));
    EXPECT_EQ(tracker.source(), std::nullopt);  // nobody left
}

}  // namespace
}  // namespace cabildo::broker
