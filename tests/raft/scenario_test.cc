// Scenario tests of the core: the paper's figures and each feature, driven
// message by message through TestCluster.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/test_cluster.h"

namespace cabildo::raft {
namespace {

using test::TestCluster;
using test::terms_of;

bool is_type(const Message& m, MessageType type) { return m.type == type; }

TEST(Election, CampaignWinsAndCommitsNoop) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    EXPECT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).status().term, 1u);
    EXPECT_EQ(c.raft(2).status().leader, 1u);
    EXPECT_EQ(c.raft(1).status().commit_index, 1u) << "the term's no-op commits";
    ASSERT_EQ(c.applied(2).size(), 1u);
    EXPECT_EQ(c.applied(2)[0].type, EntryType::noop);
}

TEST(Election, TimeoutStartsElection) {
    TestCluster c({{}, {}, {}}, 0);
    c.tick(2, 20);  // past the randomized timeout in [10, 20)
    c.deliver_all();
    EXPECT_EQ(c.raft(2).status().role, Role::leader);
}

TEST(Election, RestrictionRejectsStaleLog) {
    // Raft §5.4.1: node 1's log ends in term 1, the others' in term 2.
    TestCluster c({{1}, {1, 2}, {1, 2}}, 2, [](Config& cfg) { cfg.pre_vote = false; });
    c.raft(1).campaign();
    c.deliver_all();
    EXPECT_NE(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).status().term, 3u);
    c.raft(2).campaign();
    c.deliver_all();
    EXPECT_EQ(c.raft(2).status().role, Role::leader);
}

TEST(Election, PreVoteDoesNotBumpTermWhenLosing) {
    TestCluster c({{1}, {1, 2}, {1, 2}}, 2);
    c.raft(1).campaign();
    c.deliver_all();
    EXPECT_EQ(c.raft(1).status().term, 2u) << "a lost pre-vote leaves the term alone";
    EXPECT_EQ(c.raft(2).status().term, 2u);
}

TEST(Election, PartitionedNodeCannotDeposeLeader) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    // Node 3 is cut off and times out over and over.
    for (int i = 0; i < 10; ++i) c.tick(3, 20);
    c.deliver_if([](const Message& m) { return m.from != 3 && m.to != 3; });
    EXPECT_EQ(c.raft(3).status().term, 1u) << "PreVote: no term inflation while cut off";
    // It rejoins: its pre-votes are refused under the leader's lease.
    c.tick(3, 20);
    c.deliver_all();
    EXPECT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).status().term, 1u);
}

TEST(Election, CheckQuorumLeaderStepsDown) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    c.tick(1, 10);  // one election timeout, hearing from nobody
    c.deliver_if([](const Message&) { return false; });
    c.tick(1, 10);
    EXPECT_EQ(c.raft(1).status().role, Role::follower);
    EXPECT_EQ(c.raft(1).propose("x").status, Status::not_leader);
}

TEST(Replication, FollowerRefusesProposalWithLeaderHint) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    const ProposeResult r = c.raft(2).propose("x");
    EXPECT_EQ(r.status, Status::not_leader);
    EXPECT_EQ(r.leader, 1u);
}

TEST(Replication, Figure7FollowersConverge) {
    // Raft Figure 7: the leader (node 1) for term 8 and followers (a)-(f).
    const std::vector<std::vector<Term>> logs = {
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6},        // leader
        {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a) missing one entry
        {1, 1, 1, 4},                          // (b) missing many
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c) one extra uncommitted entry
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d) extra entries of term 7
        {1, 1, 1, 4, 4, 4, 4},                 // (e) extra term-4 entries
        {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f) a term-2/3 leader's entries
    };
    TestCluster c(logs, 7);
    c.raft(1).campaign();
    c.deliver_if([](const Message& m) { return m.from != 4 && m.from != 5; });
    ASSERT_EQ(c.raft(1).status().role, Role::leader) << "wins with a, b, e, f";
    ASSERT_EQ(c.raft(1).status().term, 8u);
    c.deliver_all();
    const std::vector<Term> want = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8};
    for (NodeId id = 1; id <= 7; ++id) {
        SCOPED_TRACE("node " + std::to_string(id));
        EXPECT_EQ(terms_of(c.log(id)), want);
    }
    EXPECT_EQ(c.raft(1).status().commit_index, 11u);
}

TEST(Replication, FastBacktrackingNeedsFewRoundTrips) {
    // Follower (f) of Figure 7 diverges over 8 entries; walking back one index
    // per rejection would take 8 appends, the term hints take 2.
    TestCluster c({{1, 1, 1, 4, 4, 5, 5, 6, 6, 6}, {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, {1}}, 7);
    c.raft(1).campaign();
    std::size_t appends_to_2 = 0;
    c.deliver_if([&](const Message& m) {
        if (m.to == 2 && is_type(m, MessageType::append_entries)) ++appends_to_2;
        return true;
    });
    ASSERT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(terms_of(c.log(2)), terms_of(c.log(1)));
    EXPECT_LE(appends_to_2, 3u);
}

TEST(Commit, Figure8PreviousTermEntryNotCommittedByCounting) {
    // Raft Figure 8: node 1 (leader of term 4) gets its term-2 entry onto a
    // majority (1, 2, 3) but must not commit it: node 5 (log ends in term 3)
    // can still win and overwrite it.
    TestCluster c({{1, 2}, {1}, {1}, {1}, {1, 3}}, 3, [](Config& cfg) {
        cfg.entries_per_append_max = 1;
        cfg.check_quorum = false;
        cfg.pre_vote = false;
    });
    c.raft(1).campaign();
    // Votes from 2, 3, 4; nothing reaches node 5; the term-4 no-op (index 3)
    // reaches no one except in the first probe, which is rejected.
    std::set<NodeId> probed;
    c.deliver_if([&](const Message& m) {
        if (m.to == 5 || m.from == 5) return false;
        if (m.type != MessageType::append_entries || m.entries.empty()) return true;
        if (m.entries[0].index != 3) return true;
        return probed.insert(m.to).second;
    });
    ASSERT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.log(2).all().size(), 2u) << "node 2 holds the term-2 entry";
    EXPECT_EQ(c.log(3).all().size(), 2u) << "node 3 holds the term-2 entry";
    EXPECT_EQ(c.raft(1).status().commit_index, 0u) << "§5.4.2: not committed by counting";
    // Node 5 wins a later term without node 1 and overwrites index 2.
    for (int attempt = 0; attempt < 2 && c.raft(5).status().role != Role::leader; ++attempt) {
        c.raft(5).campaign();
        c.deliver_if([](const Message& m) { return m.to != 1 && m.from != 1; });
    }
    ASSERT_EQ(c.raft(5).status().role, Role::leader);
    for (NodeId id = 2; id <= 5; ++id) EXPECT_EQ(c.log(id).all()[1].term, 3u);
    c.tick(5, 1);  // a heartbeat resumes the probe whose append to node 1 was dropped
    c.deliver_all();
    EXPECT_EQ(terms_of(c.log(1)), terms_of(c.log(5))) << "node 1 is overwritten";
}

TEST(Commit, Figure8CurrentTermEntryCommitsEarlierOnes) {
    TestCluster c({{1, 2}, {1}, {1}, {1}, {1, 3}}, 3);
    c.raft(1).campaign();
    c.deliver_if([](const Message& m) { return m.to != 5 && m.from != 5; });
    ASSERT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).status().commit_index, 3u) << "the no-op of term 4 carries index 2";
}

TEST(ReadIndex, ConfirmedByAHeartbeatRound) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    ASSERT_EQ(c.raft(1).propose("a").status, Status::ok);
    c.deliver_all();
    ASSERT_EQ(c.raft(1).read_index(ReadContext{42}).status, Status::ok);
    c.process_readies();
    EXPECT_TRUE(c.reads(1).empty()) << "not before a majority answered";
    c.deliver_all();
    ASSERT_EQ(c.reads(1).size(), 1u);
    EXPECT_EQ(c.reads(1)[0].context.id, 42u);
    EXPECT_EQ(c.reads(1)[0].index, 2u);
}

TEST(ReadIndex, CutOffLeaderCannotConfirm) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    ASSERT_EQ(c.raft(1).read_index(ReadContext{7}).status, Status::ok);
    c.deliver_if([](const Message& m) { return m.from != 1; });
    EXPECT_TRUE(c.reads(1).empty());
    EXPECT_EQ(c.raft(2).read_index(ReadContext{8}).status, Status::not_leader);
}

TEST(ReadIndex, SingleNodeConfirmsAtOnce) {
    TestCluster c({{}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    ASSERT_EQ(c.raft(1).status().role, Role::leader);
    ASSERT_EQ(c.raft(1).read_index(ReadContext{1}).status, Status::ok);
    c.process_readies();
    ASSERT_EQ(c.reads(1).size(), 1u);
}

TEST(Transfer, TimeoutNowHandsLeadershipOver) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    ASSERT_EQ(c.raft(1).propose("a").status, Status::ok);
    ASSERT_EQ(c.raft(1).transfer_leadership(3), Status::ok);
    EXPECT_EQ(c.raft(1).propose("b").status, Status::dropped) << "no proposals during transfer";
    c.deliver_all();
    EXPECT_EQ(c.raft(3).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).status().role, Role::follower);
    EXPECT_EQ(c.raft(3).status().term, 2u);
    EXPECT_GT(c.sent(MessageType::timeout_now), 0u);
}

TEST(Transfer, GivenUpAfterElectionTimeout) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    ASSERT_EQ(c.raft(1).transfer_leadership(3), Status::ok);
    c.deliver_if([](const Message& m) { return m.to != 3 && m.from != 3; });
    c.tick(1, 10);
    c.deliver_if([](const Message& m) { return m.to != 3 && m.from != 3; });
    EXPECT_EQ(c.raft(1).status().role, Role::leader);
    EXPECT_EQ(c.raft(1).propose("b").status, Status::ok);
}

// §7: a follower that needs entries the leader compacted away gets the
// leader's snapshot, installs it (its log starts after it) and then takes
// new entries as usual.
TEST(Snapshot, LaggingFollowerIsSentTheSnapshot) {
    TestCluster c({{}, {}, {}}, 0);
    c.raft(1).campaign();
    c.deliver_all();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(c.raft(1).propose("c").status, Status::ok);
    c.deliver_if([](const Message& m) { return m.to != 3 && m.from != 3; });
    const LogIndex applied = c.raft(1).status().applied;
    ASSERT_EQ(applied, 21u);
    SnapshotMeta snapshot{applied, *c.log(1).term_at(applied), raft::voters_membership({1, 2, 3})};
    c.mutable_log(1).set_snapshot(snapshot);
    c.mutable_log(1).compact(applied - 2);
    EXPECT_EQ(c.log(1).first_index(), applied - 1);

    c.tick(1, 1);  // a heartbeat round: node 3 answers, is probed
    c.deliver_all();
    EXPECT_GE(c.sent(MessageType::install_snapshot), 1u);
    EXPECT_EQ(c.log(3).snapshot(), snapshot);
    EXPECT_EQ(c.log(3).first_index(), applied + 1);
    EXPECT_EQ(c.raft(3).status().applied, applied);
    EXPECT_EQ(c.raft(3).status().commit_index, applied);

    ASSERT_EQ(c.raft(1).propose("after").status, Status::ok);
    c.deliver_all();
    ASSERT_FALSE(c.applied(3).empty());
    EXPECT_EQ(c.applied(3).back().data, "after");
    EXPECT_EQ(c.applied(3).back().index, applied + 1);
}

// A snapshot at or below the follower's commit index changes nothing: it is
// answered with the commit index; one whose entry the log holds only
// commits it and keeps the entries after it.
TEST(Snapshot, OldOrHeldSnapshotIsNotInstalled) {
    TestCluster c({{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}}, 1);
    Raft& follower = c.raft(2);
    Message m{.type = MessageType::heartbeat, .from = 1, .to = 2, .term = 1, .leader_commit = 2};
    follower.step(m);
    c.process_readies();
    c.queue().clear();
    ASSERT_EQ(follower.status().commit_index, 2u);

    Message old{.type = MessageType::install_snapshot, .from = 1, .to = 2, .term = 1,
                .snapshot = {1, 1, raft::voters_membership({1, 2})}};
    follower.step(old);
    c.process_readies();
    ASSERT_EQ(c.queue().size(), 1u);
    EXPECT_TRUE(c.queue().front().success);
    EXPECT_EQ(c.queue().front().match_index, 2u);
    EXPECT_EQ(c.log(2).first_index(), 1u) << "nothing installed";
    c.queue().clear();

    Message held{.type = MessageType::install_snapshot, .from = 1, .to = 2, .term = 1,
                 .snapshot = {4, 1, raft::voters_membership({1, 2})}};
    follower.step(held);
    c.process_readies();
    EXPECT_EQ(follower.status().commit_index, 4u);
    EXPECT_EQ(c.log(2).first_index(), 1u) << "the log holds entry 4: kept";
    EXPECT_EQ(c.log(2).last_index(), 5u);
    ASSERT_EQ(c.queue().size(), 1u);
    EXPECT_EQ(c.queue().front().match_index, 4u);
}

}  // namespace
}  // namespace cabildo::raft
