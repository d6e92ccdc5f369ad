// TopModel and TopScreen (client/top_model.h, top_screen.h): heartbeats in,
// rows, states, lag and leader changes out, with made-up instants.
#include "client/top_model.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/top_screen.h"

namespace cabildo::client {
namespace {

using std::chrono::milliseconds;

const std::vector<std::string> three = {"tcp://127.0.0.1:7101", "tcp://127.0.0.1:7111",
                                        "tcp://127.0.0.1:7121"};

TopInstant at(std::int64_t ms) {
    return TopInstant{TopSteadyTime{} + milliseconds(ms),
                      TopWallTime{} + milliseconds(1'700'000'000'000 + ms)};
}

wire::NodeStatus node(std::uint64_t id, const char* role, std::uint64_t term,
                      std::uint64_t leader_id, std::uint64_t commit, std::uint64_t applied) {
    wire::NodeStatus status;
    status.node_id = id;
    status.role = role;
    status.term = term;
    status.leader_id = leader_id;
    status.commit_index = commit;
    status.applied_index = applied;
    status.last_index = commit;
    for (std::uint64_t id = 1; id <= 3; ++id) {
        wire::MemberInfo member;
        member.id = id;
        member.client_endpoint = three[id - 1];
        status.members.push_back(member);
    }
    return status;
}

// One heartbeat of each of three nodes at `ms`; node 1 leads in `term`.
void all_beat(TopModel& model, std::int64_t ms, std::uint64_t term = 2) {
    model.on_heartbeat(three[0], node(1, "leader", term, 1, 10, 10), at(ms));
    model.on_heartbeat(three[1], node(2, "follower", term, 1, 10, 9), at(ms));
    model.on_heartbeat(three[2], node(3, "follower", term, 1, 8, 7), at(ms));
}

TEST(TopModel, RowStates) {
    struct Case {
        std::string name;
        std::int64_t now_ms;
        bool beat;  // the three nodes sent one heartbeat at 100 ms
        std::vector<TopNodeState> states;
    };
    const std::vector<Case> cases = {
        {"nothing heard yet: waiting",
         500,
         false,
         {TopNodeState::waiting, TopNodeState::waiting, TopNodeState::waiting}},
        {"nothing heard for over a second: down",
         1500,
         false,
         {TopNodeState::down, TopNodeState::down, TopNodeState::down}},
        {"heard: live", 600, true, {TopNodeState::live, TopNodeState::live, TopNodeState::live}},
        {"exactly the silence limit: still live",
         1100,
         true,
         {TopNodeState::live, TopNodeState::live, TopNodeState::live}},
        {"silent past the limit: down",
         1101,
         true,
         {TopNodeState::down, TopNodeState::down, TopNodeState::down}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TopModel model(three, at(0));
        if (c.beat)
            all_beat(model, 100);
        const std::vector<TopRow> rows = model.rows(at(c.now_ms).steady);
        ASSERT_EQ(rows.size(), c.states.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            EXPECT_EQ(rows[i].state, c.states[i]) << "row " << i;
            EXPECT_EQ(rows[i].status.has_value(), c.beat);
            EXPECT_EQ(rows[i].node_id, c.beat ? i + 1 : 0);
        }
    }
}

TEST(TopModel, LagAgainstTheLeadersCommitIndex) {
    TopModel model(three, at(0));
    all_beat(model, 100);
    std::vector<TopRow> rows = model.rows(at(150).steady);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].lag, 0u);
    EXPECT_EQ(rows[1].lag, 1u);
    EXPECT_EQ(rows[2].lag, 3u);
    EXPECT_TRUE(rows[0].is_leader);
    EXPECT_FALSE(rows[1].is_leader);
    EXPECT_EQ(rows[1].age, milliseconds(50));

    // Leader gone: the highest live commit index (node 2's 10) counts.
    model.on_heartbeat(three[1], node(2, "candidate", 3, 0, 10, 10), at(1500));
    model.on_heartbeat(three[2], node(3, "follower", 3, 0, 9, 8), at(1500));
    rows = model.rows(at(1500).steady);
    EXPECT_EQ(rows[0].state, TopNodeState::down);
    EXPECT_EQ(rows[0].lag, 0u);  // its last applied 10 is the reference
    EXPECT_EQ(rows[2].lag, 2u);
    EXPECT_FALSE(rows[0].is_leader);
}

TEST(TopModel, LearnsMembersFromOneEndpoint) {
    TopModel model({three[1]}, at(0));
    EXPECT_EQ(model.endpoints(), std::vector<std::string>{three[1]});
    model.on_heartbeat(three[1], node(2, "follower", 2, 1, 5, 5), at(100));
    EXPECT_EQ(model.endpoints(), (std::vector<std::string>{three[1], three[0], three[2]}));
    const std::vector<TopRow> rows = model.rows(at(200).steady);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].node_id, 1u);
    EXPECT_EQ(rows[0].state, TopNodeState::waiting);
    EXPECT_EQ(rows[0].endpoint, three[0]);
    EXPECT_EQ(rows[1].state, TopNodeState::live);
    // Members never heard become down after a second of silence.
    EXPECT_EQ(model.rows(at(1200).steady)[2].state, TopNodeState::down);
}

TEST(TopModel, AnEndpointSpelledOtherwiseIsOneRow) {
    TopModel model({"tcp://localhost:7101"}, at(0));
    model.on_heartbeat("tcp://localhost:7101", node(1, "leader", 2, 1, 5, 5), at(100));
    const std::vector<TopRow> rows = model.rows(at(200).steady);
    ASSERT_EQ(rows.size(), 3u);  // node 1 (as it advertises itself), 2 and 3
    EXPECT_EQ(rows[0].endpoint, three[0]);
    EXPECT_EQ(rows[0].state, TopNodeState::live);
}

TEST(TopModel, RemovedMemberIsDroppedOnceDown) {
    TopModel model({three[0]}, at(0));
    all_beat(model, 100);
    wire::NodeStatus without_3 = node(1, "leader", 2, 1, 12, 12);
    without_3.members.pop_back();
    model.on_heartbeat(three[0], without_3, at(1500));
    wire::NodeStatus follower = node(2, "follower", 2, 1, 12, 12);
    follower.members.pop_back();
    model.on_heartbeat(three[1], follower, at(1500));
    const std::vector<TopRow> rows = model.rows(at(1500).steady);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].node_id, 2u);
}

TEST(TopModel, RecoveringNode) {
    TopModel model(three, at(0));
    wire::NodeStatus status = node(1, "follower", 2, 0, 10, 3);
    status.recovering = true;
    model.on_heartbeat(three[0], status, at(100));
    EXPECT_EQ(model.rows(at(100).steady)[0].state, TopNodeState::recovering);
}

TEST(TopModel, LeaderChanges) {
    TopModel model(three, at(0));
    model.tick(at(50));
    EXPECT_TRUE(model.leader_changes().empty()) << "nothing live yet: nothing to say";
    all_beat(model, 100);
    all_beat(model, 200);
    ASSERT_EQ(model.leader_changes().size(), 1u);
    EXPECT_EQ(model.leader_changes()[0], (TopLeaderChange{{}, 2, 1, 0, true}));

    // Node 1 dies; 2 and 3 go on for a while naming it, then pre-vote.
    model.on_heartbeat(three[1], node(2, "follower", 2, 1, 10, 10), at(900));
    model.on_heartbeat(three[1], node(2, "pre_candidate", 2, 0, 10, 10), at(1250));
    model.on_heartbeat(three[2], node(3, "pre_candidate", 2, 0, 10, 10), at(1250));
    EXPECT_EQ(model.leader().leader_id, 0u);
    model.on_heartbeat(three[1], node(2, "candidate", 3, 0, 10, 10), at(1300));
    model.on_heartbeat(three[1], node(2, "leader", 3, 2, 11, 11), at(1400));
    model.on_heartbeat(three[2], node(3, "follower", 3, 2, 11, 11), at(1400));
    // Back, as follower of 2 in term 3, after 2 won again in term 4.
    model.on_heartbeat(three[0], node(1, "follower", 3, 0, 10, 10), at(2000));
    model.on_heartbeat(three[1], node(2, "leader", 4, 2, 13, 13), at(2100));

    const std::vector<TopLeaderChange> expected = {
        {{}, 2, 1, 0, true},
        {{}, 2, 0, 1, false},  // the live nodes know no leader
        {{}, 3, 2, 0, false},
        {{}, 4, 2, 2, false},  // re-elected: a new term
    };
    ASSERT_EQ(model.leader_changes().size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(model.leader_changes()[i], expected[i]) << "change " << i;
}

TEST(TopModel, SilentLeaderIsNoLeaderOnTick) {
    TopModel model({three[0]}, at(0));
    model.on_heartbeat(three[0], node(1, "leader", 2, 1, 10, 10), at(100));
    model.tick(at(1000));
    EXPECT_EQ(model.leader().leader_id, 1u);
    model.tick(at(1200));
    EXPECT_EQ(model.leader().leader_id, 0u);
    ASSERT_EQ(model.leader_changes().size(), 2u);
    EXPECT_EQ(model.leader_changes()[1].previous_leader_id, 1u);
}

TEST(TopModel, LeaderChangesAreBounded) {
    TopModel model({three[0]}, at(0));
    for (std::uint64_t term = 1; term <= top_leader_changes_max + 20; ++term)
        model.on_heartbeat(three[0], node(1, "leader", term, 1, 1, 1), at(term));
    EXPECT_EQ(model.leader_changes().size(), top_leader_changes_max);
    EXPECT_EQ(model.leader_changes().back().term, top_leader_changes_max + 20);
}

TEST(TopScreen, Text) {
    TopModel model(three, at(0));
    wire::NodeStatus leader = node(1, "leader", 2, 1, 10, 10);
    leader.writes_per_s = 1234;
    leader.reads_per_s = 56;
    leader.fsync_p99_us = 1500;
    leader.rss_bytes = 3 * 1024 * 1024 + 512 * 1024;
    model.on_heartbeat(three[0], leader, at(100));
    model.on_heartbeat(three[1], node(2, "follower", 2, 1, 10, 9), at(100));
    model.on_heartbeat(three[0], leader, at(1500));  // node 2 is down by then
    const TopScreen screen = build_top_screen(model, at(1600));

    EXPECT_NE(screen.title.find("3 nodes, 1 live  leader 1, term 2"), std::string::npos)
        << screen.title;
    for (const char* column :
         {"ID", "ENDPOINT", "STATE", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG",
          "WRITE/S", "READ/S", "FSYNC99_MS", "RSS_MIB", "AGE"})
        EXPECT_NE(screen.header.find(column), std::string::npos) << column;
    ASSERT_EQ(screen.rows.size(), 3u);
    const TopLine& first = screen.rows[0];
    EXPECT_TRUE(first.bold);
    EXPECT_FALSE(first.dim);
    for (const char* cell : {" live ", " leader ", " 1234 ", " 56 ", " 1.50 ", " 3.5 ", "0.1s"})
        EXPECT_NE(first.text.find(cell), std::string::npos) << cell << " in " << first.text;
    const TopLine& second = screen.rows[1];
    EXPECT_TRUE(second.dim);
    EXPECT_NE(second.text.find(" down "), std::string::npos) << second.text;
    EXPECT_NE(second.text.find(" follower "), std::string::npos) << second.text;
    EXPECT_NE(second.text.find("1.5s"), std::string::npos) << second.text;
    EXPECT_NE(screen.rows[2].text.find(" down "), std::string::npos) << screen.rows[2].text;
    // Columns line up: every row is as long as the header.
    for (const TopLine& row : screen.rows)
        EXPECT_EQ(row.text.size(), screen.header.size()) << row.text;

    EXPECT_EQ(screen.changes_title, "recent leader changes (1)");
    ASSERT_EQ(screen.changes.size(), 1u);
    EXPECT_NE(screen.changes[0].find("(1.5s ago)  term 2  leader 1 (when top started)"),
              std::string::npos)
        << screen.changes[0];
}

TEST(TopScreen, LeaderChangeText) {
    struct Case {
        std::string name;
        TopLeaderChange change;
        std::string suffix;
    };
    const std::vector<Case> cases = {
        {"new leader", {at(0), 7, 2, 1, false}, "(5.0s ago)  term 7  leader 2 (was 1)"},
        {"no leader", {at(0), 6, 0, 1, false}, "(5.0s ago)  term 6  no leader (was 1)"},
        {"after none", {at(0), 7, 3, 0, false}, "(5.0s ago)  term 7  leader 3"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string text = format_leader_change(c.change, at(5000));
        ASSERT_GE(text.size(), c.suffix.size());
        EXPECT_EQ(text.substr(text.size() - c.suffix.size()), c.suffix);
    }
}

TEST(TopScreen, Ages) {
    struct Case {
        std::string name;
        std::int64_t ms;
        std::string text;
    };
    const std::vector<Case> cases = {
        {"zero", 0, "0.0s"},        {"tenths", 340, "0.3s"},    {"below ten", 9990, "10.0s"},
        {"seconds", 42'000, "42s"}, {"minutes", 300'000, "5m"}, {"hours", 7'300'000, "2h"},
        {"negative", -5, "0.0s"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(format_top_age(milliseconds(c.ms)), c.text);
    }
}

}  // namespace
}  // namespace cabildo::client
