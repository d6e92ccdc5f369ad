// Table-driven tests of the leader's per-follower flow control (progress.h).
#include <gtest/gtest.h>

#include "node/raft/progress.h"

namespace cabildo::raft {
namespace {

TEST(Progress, ProbeSendsOneAtATime) {
    Progress pr(5);
    EXPECT_FALSE(pr.is_paused(4));
    pr.sent_append(7, 3);
    EXPECT_TRUE(pr.is_paused(4)) << "probe waits for the answer";
    EXPECT_EQ(pr.next_index, 5u) << "probe does not move next optimistically";
    EXPECT_TRUE(pr.maybe_update(7));
    EXPECT_FALSE(pr.is_paused(4));
    EXPECT_EQ(pr.match_index, 7u);
    EXPECT_EQ(pr.next_index, 8u);
}

TEST(Progress, ReplicatePipelinesUpToInflightMax) {
    Progress pr(1);
    pr.become_replicate();
    pr.sent_append(10, 10);
    pr.sent_append(20, 10);
    EXPECT_EQ(pr.next_index, 21u);
    EXPECT_TRUE(pr.is_paused(2));
    EXPECT_TRUE(pr.maybe_update(10));
    EXPECT_FALSE(pr.is_paused(2)) << "an acknowledgement frees its slot";
    EXPECT_EQ(pr.inflight_count(), 1u);
    pr.sent_append(20, 0);
    EXPECT_EQ(pr.inflight_count(), 1u) << "an empty append takes no slot";
}

TEST(Progress, LostAppendsFreedByHeartbeat) {
    Progress pr(1);
    pr.become_replicate();
    pr.sent_append(5, 5);
    EXPECT_TRUE(pr.is_paused(1));
    pr.free_first_inflight_if_full(1);
    EXPECT_FALSE(pr.is_paused(1));
}

TEST(Progress, MaybeDecreaseTo) {
    struct Case {
        const char* name;
        Progress::State state;
        LogIndex match, next, rejected, hint;
        bool want_changed;
        LogIndex want_next;
    };
    const std::vector<Case> cases = {
        {"replicate: stale rejection below match", Progress::State::replicate, 5, 10, 4, 4,
         false, 10},
        {"replicate: rejection falls back to match+1", Progress::State::replicate, 5, 10, 8, 2,
         true, 6},
        {"probe: stale rejection of an older probe", Progress::State::probe, 0, 10, 5, 2, false,
         10},
        {"probe: hint jumps back", Progress::State::probe, 0, 10, 9, 3, true, 4},
        {"probe: hint beyond rejected is ignored", Progress::State::probe, 0, 10, 9, 20, true, 9},
        {"probe: never below match+1", Progress::State::probe, 6, 10, 9, 2, true, 7},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Progress pr(c.next);
        pr.match_index = c.match;
        pr.state = c.state;
        EXPECT_EQ(pr.maybe_decrease_to(c.rejected, c.hint), c.want_changed);
        EXPECT_EQ(pr.next_index, c.want_next);
    }
}

}  // namespace
}  // namespace cabildo::raft
