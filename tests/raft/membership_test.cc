// Membership changes in the core: one server at a time, learners, the
// removed leader's handover, and the membership's encoding.
#include <gtest/gtest.h>

#include "node/raft/raft.h"
#include "node/raft/raft_log.h"
#include "tests/support/test_cluster.h"

namespace cabildo::raft {
namespace {

using test::TestCluster;

Membership with(Membership m, NodeId id, bool learner) {
    m.put(Member{id, learner, "host:" + std::to_string(id)});
    return m;
}

Membership without(Membership m, NodeId id) {
    m.erase(id);
    return m;
}

// Nodes 1..3 are voters; node 4 (and 5) start outside, as a node started
// with --join does. Node 1 is elected and commits its no-op.
struct Fixture {
    explicit Fixture(bool leases = true)
        : c(std::vector<std::vector<Term>>(4), 0, [leases](Config& config) {
              config.promote_lag_max = 2;
              config.pre_vote = config.check_quorum = leases;
              if (config.id <= 3) config.membership = voters_membership({1, 2, 3});
          }) {
        c.raft(1).campaign();
        c.deliver_all();
    }
    Raft& leader() { return c.raft(1); }
    TestCluster c;
};

TEST(Membership, EncodingRoundTripsAndRejectsDamage) {
    Membership m = with(with(voters_membership({1, 2}), 7, true), 3, false);
    const std::string bytes = encode_membership(m);
    EXPECT_EQ(decode_membership(bytes), m);
    EXPECT_EQ(m.voters(), (std::vector<NodeId>{1, 2, 3}));
    EXPECT_FALSE(decode_membership(bytes.substr(0, bytes.size() - 1)));
    EXPECT_FALSE(decode_membership(bytes + "x"));
    EXPECT_FALSE(decode_membership(""));
    std::string bad_version = bytes;
    bad_version[0] = 2;
    EXPECT_FALSE(decode_membership(bad_version));
}

TEST(Membership, ALearnerReceivesTheLogButCountsInNoQuorum) {
    Fixture f;
    ASSERT_EQ(f.leader().role(), Role::leader);
    const ChangeResult r = f.leader().propose_membership(with(f.leader().membership(), 4, true));
    ASSERT_EQ(r.status, Status::ok) << r.detail;
    f.c.deliver_all();
    EXPECT_EQ(f.c.raft(4).membership(), f.leader().membership()) << "learned from the log";
    ASSERT_EQ(f.leader().propose("x").status, Status::ok);
    f.c.deliver_all();
    ASSERT_FALSE(f.c.applied(4).empty());
    EXPECT_EQ(f.c.applied(4).back().data, "x");

    // Only the learner acknowledges: 1 of 3 voters is no majority.
    const ProposeResult p = f.leader().propose("y");
    f.c.deliver_if([](const Message& m) { return m.from == 4 || m.to == 4; });
    EXPECT_LT(f.leader().status().commit_index, p.index);

    // A learner never campaigns, and TimeoutNow does not make it.
    f.c.tick(4, 100);
    EXPECT_EQ(f.c.raft(4).role(), Role::follower);
    EXPECT_EQ(f.leader().transfer_leadership(4), Status::bad_request);
}

TEST(Membership, OneChangeAtATimeAndOnlyOneServerPerChange) {
    Fixture f;
    const Membership base = f.leader().membership();
    ChangeResult r = f.leader().propose_membership(with(with(base, 4, true), 5, true));
    EXPECT_EQ(r.status, Status::bad_request);
    r = f.leader().propose_membership(base);
    EXPECT_EQ(r.status, Status::bad_request) << "no change";
    ASSERT_EQ(f.leader().propose_membership(with(base, 4, true)).status, Status::ok);
    r = f.leader().propose_membership(without(with(base, 4, true), 3));
    EXPECT_EQ(r.status, Status::change_pending) << r.detail;
    f.c.deliver_all();
    EXPECT_EQ(f.leader().propose_membership(without(with(base, 4, true), 3)).status, Status::ok);
}

TEST(Membership, ALaggingLearnerIsNotPromoted) {
    Fixture f;
    const Membership added = with(f.leader().membership(), 4, true);
    ASSERT_EQ(f.leader().propose_membership(added).status, Status::ok);
    f.c.deliver_all();
    // Node 4 hears nothing while 5 entries commit: it is 5 behind (> 2).
    for (int i = 0; i < 5; ++i) ASSERT_EQ(f.leader().propose("w").status, Status::ok);
    f.c.deliver_if([](const Message& m) { return m.to != 4; });
    const ChangeResult r = f.leader().propose_membership(with(added, 4, false));
    EXPECT_EQ(r.status, Status::lagging);
    EXPECT_NE(r.detail.find("learner 4 is 5 entries behind"), std::string::npos) << r.detail;
    f.c.tick(1, 1);  // a heartbeat: node 4 catches up
    f.c.deliver_all();
    EXPECT_EQ(f.leader().propose_membership(with(added, 4, false)).status, Status::ok);
    f.c.deliver_all();
    EXPECT_EQ(f.leader().membership().voter_count(), 4u);
    EXPECT_FALSE(f.leader().status().membership_pending);
}

// Ongaro 2015: until the leader commits an entry of its term, a change from
// an earlier term that it never saw may still commit; so it waits.
TEST(Membership, ANewLeaderChangesNothingBeforeItCommitsInItsTerm) {
    Fixture f(false);
    f.c.raft(2).campaign();  // node 2 is elected; its no-op reaches no one
    f.c.deliver_if([](const Message& m) { return m.type != MessageType::append_entries; });
    ASSERT_EQ(f.c.raft(2).role(), Role::leader);
    const ChangeResult r = f.c.raft(2).propose_membership(with(f.c.raft(2).membership(), 4, true));
    EXPECT_EQ(r.status, Status::dropped);
    EXPECT_NE(r.detail.find("not committed an entry of its term"), std::string::npos);
}

TEST(Membership, ARemovalThatLeavesNoReachableQuorumIsRefused) {
    Fixture f;
    // Node 3 is gone for two election timeouts: the leader no longer hears it.
    for (int i = 0; i < 30; ++i) {
        f.c.tick(1, 1);
        f.c.deliver_if([](const Message& m) { return m.to != 3 && m.from != 3; });
    }
    ASSERT_EQ(f.leader().role(), Role::leader);
    const ChangeResult r = f.leader().propose_membership(without(f.leader().membership(), 2));
    EXPECT_EQ(r.status, Status::no_quorum) << r.detail;
    EXPECT_EQ(f.leader().propose_membership(without(f.leader().membership(), 3)).status,
              Status::ok)
        << "removing the dead one leaves 2 of 2";
}

// Thesis §4.2.2: the removed leader commits its removal with the remaining
// voters alone, then hands over and steps down; it never campaigns again.
TEST(Membership, ARemovedLeaderHandsOverOnceItsRemovalCommits) {
    Fixture f;
    const ChangeResult r = f.leader().propose_membership(without(f.leader().membership(), 1));
    ASSERT_EQ(r.status, Status::ok);
    f.c.deliver_all();
    EXPECT_GE(f.c.raft(2).status().commit_index, r.index);
    EXPECT_GE(f.c.sent(MessageType::timeout_now), 1u);
    EXPECT_NE(f.leader().role(), Role::leader);
    const NodeId next = f.c.raft(2).role() == Role::leader ? 2 : 3;
    ASSERT_EQ(f.c.raft(next).role(), Role::leader);
    EXPECT_EQ(f.c.raft(next).term(), 2u) << "by TimeoutNow, not an election timeout";
    f.c.tick(1, 100);
    f.c.deliver_all();
    EXPECT_EQ(f.c.raft(next).role(), Role::leader) << "the removed node disrupts nothing";
    EXPECT_EQ(f.leader().role(), Role::follower);
}

// Thesis §4.1: a configuration entry is in force once in the log; if it is
// truncated, the one before it is back.
TEST(Membership, ATruncatedConfigurationEntryIsNoLongerInForce) {
    test::MemoryLog stored = test::MemoryLog::with_terms({1});
    RaftLog log(stored, 1, 0, voters_membership({1, 2, 3}));
    const Membership four = with(voters_membership({1, 2, 3}), 4, false);
    log.append_after(1, {Entry{1, 2, EntryType::config, encode_membership(four)}});
    EXPECT_EQ(log.membership(), four);
    EXPECT_TRUE(log.membership_pending());
    log.append_after(1, {Entry{2, 2, EntryType::normal, "x"}});
    EXPECT_EQ(log.membership(), voters_membership({1, 2, 3}));
    EXPECT_FALSE(log.membership_pending());
}

// At start the core reads the configuration entries after the applied index.
TEST(Membership, ARestartedCoreReadsConfigurationEntriesFromTheLog) {
    test::MemoryLog stored = test::MemoryLog::with_terms({1});
    const Membership four = with(voters_membership({1, 2, 3}), 4, true);
    stored.persist({Entry{1, 2, EntryType::config, encode_membership(four)}});
    RaftLog log(stored, 1, 1, voters_membership({1, 2, 3}));
    EXPECT_EQ(log.membership(), four);
    EXPECT_EQ(log.membership_index(), 2u);
    EXPECT_TRUE(log.membership_pending());
}

}  // namespace
}  // namespace cabildo::raft
