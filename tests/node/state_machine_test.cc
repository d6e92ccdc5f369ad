// KvStateMachine over a real Storage: key metadata, leases (grant, attach,
// keepalive, revoke, a stale expiry that must do nothing) and txns (compare
// evaluation, branches at one revision, all-or-nothing on a bad lease).
#include <gtest/gtest.h>

#include "node/kv_reads.h"
#include "node/lease_clock.h"
#include "node/state_machine.h"
#include "tests/node/state_machine_fixture.h"
#include "wire/command.h"

namespace cabildo::node {
namespace {

TEST_F(StateMachineTest, MetadataFollowsWrites) {
    apply(put("k", "1"));
    apply(put("k", "2"));
    auto entry = storage_->get_entry("k");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->meta, (storage::KeyMeta{1, 2, 2, 0}));
    wire::Command del;
    del.op = wire::Op::del;
    del.key = "k";
    apply(del);
    apply(put("k", "3"));
    EXPECT_EQ(storage_->get_entry("k")->meta, (storage::KeyMeta{4, 4, 1, 0}));
}

TEST_F(StateMachineTest, LeaseRevokeDeletesItsKeysAtOneRevision) {
    const Applied granted = apply(lease_op(wire::Op::lease_grant, 0, 2000));
    ASSERT_TRUE(granted.reply.ok);
    const std::uint64_t lease = granted.reply.lease->id;
    EXPECT_EQ(lease, granted.index);  // picked: the grant's index
    EXPECT_EQ(granted.leases, (std::vector<LeaseChange>{{lease, granted.index, 2000}}));
    apply(put("svc/a", "1", lease));
    apply(put("svc/b", "1", lease));
    apply(put("other", "1"));
    EXPECT_EQ(storage_->lease(lease)->keys, 2u);
    apply(put("svc/b", "2"));  // a put without the lease detaches it
    EXPECT_EQ(storage_->lease(lease)->keys, 1u);
    apply(put("svc/b", "3", lease));
    const Applied revoked = apply(lease_op(wire::Op::lease_revoke, lease));
    ASSERT_TRUE(revoked.reply.ok);
    EXPECT_EQ(*revoked.reply.deleted, 2u);
    EXPECT_EQ(revoked.events.size(), 2u);  // both deletes, one revision
    EXPECT_FALSE(storage_->get("svc/a"));
    EXPECT_FALSE(storage_->get("svc/b"));
    EXPECT_TRUE(storage_->get("other"));
    EXPECT_FALSE(storage_->lease(lease));
    EXPECT_TRUE(storage_->lease_keys(lease, 100).empty());
    const Applied again = apply(lease_op(wire::Op::lease_keepalive, lease));
    EXPECT_FALSE(again.reply.ok);
    EXPECT_EQ(again.reply.error, "not_found");
}

TEST_F(StateMachineTest, ExpiryJudgedOnAnOlderRenewalDoesNothing) {
    const std::uint64_t lease = apply(lease_op(wire::Op::lease_grant, 50, 2000)).reply.lease->id;
    ASSERT_EQ(lease, 50u);
    apply(put("k", "v", lease));
    const raft::LogIndex granted_at = storage_->lease(lease)->renewed;
    apply(lease_op(wire::Op::lease_keepalive, lease));  // committed before the verdict
    wire::Command expire;
    expire.op = wire::Op::lease_expire;
    expire.expiries = {{lease, granted_at}};
    apply(expire);
    EXPECT_TRUE(storage_->lease(lease));
    EXPECT_TRUE(storage_->get("k"));
    expire.expiries = {{lease, storage_->lease(lease)->renewed}};
    const Applied expired = apply(expire);
    EXPECT_FALSE(storage_->lease(lease));
    EXPECT_FALSE(storage_->get("k"));
    EXPECT_EQ(expired.leases, (std::vector<LeaseChange>{{lease, expired.index, 0}}));
}

TEST_F(StateMachineTest, GrantOfATakenIdIsRefused) {
    apply(lease_op(wire::Op::lease_grant, 9, 2000));
    const Applied second = apply(lease_op(wire::Op::lease_grant, 9, 3000));
    EXPECT_FALSE(second.reply.ok);
    EXPECT_EQ(second.reply.error, "exists");
    EXPECT_EQ(storage_->lease(9)->ttl_ms, 2000u);
}

TEST_F(StateMachineTest, PutWithAnUnknownLeaseWritesNothing) {
    const Applied refused = apply(put("k", "v", 404));
    EXPECT_FALSE(refused.reply.ok);
    EXPECT_EQ(refused.reply.error, "not_found");
    EXPECT_FALSE(storage_->get("k"));
    EXPECT_TRUE(refused.events.empty());
}

TEST_F(StateMachineTest, TxnRunsOneBranchAtOneRevision) {
    apply(put("cfg/v", "7"));
    wire::Command txn;
    txn.op = wire::Op::txn;
    txn.txn.emplace();
    txn.txn->compare = {{"cfg/v", wire::CompareTarget::value, wire::CompareResult::eq, "7", 0}};
    txn.txn->success = {{wire::Op::put, "cfg/v", "8", 0, false, false, 1000},
                        {wire::Op::put, "cfg/w", "1", 0, true, false, 1000},
                        {wire::Op::get, "cfg/v", "", 0, false, false, 1000}};
    txn.txn->failure = {{wire::Op::get, "cfg/v", "", 0, false, false, 1000}};
    const Applied ran = apply(txn);
    ASSERT_TRUE(ran.reply.ok);
    EXPECT_TRUE(*ran.reply.succeeded);
    ASSERT_EQ(ran.reply.responses->size(), 3u);
    EXPECT_EQ(*ran.reply.responses->at(2).value, std::optional<std::string>("8"));  // sees the put
    EXPECT_EQ(ran.reply.responses->at(1).prev, std::optional<std::optional<wire::PrevValue>>(
                                                   std::optional<wire::PrevValue>()));
    EXPECT_EQ(storage_->get_entry("cfg/v")->meta.mod_revision, ran.index);
    EXPECT_EQ(storage_->get_entry("cfg/w")->meta.mod_revision, ran.index);
    EXPECT_EQ(ran.events.size(), 2u);
    const Applied failed = apply(txn);  // cfg/v is 8 now
    EXPECT_FALSE(*failed.reply.succeeded);
    EXPECT_EQ(failed.reply.responses->size(), 1u);
    EXPECT_TRUE(failed.events.empty());
}

TEST_F(StateMachineTest, TxnAttachingAMissingLeaseWritesNothing) {
    wire::Command txn;
    txn.op = wire::Op::txn;
    txn.txn.emplace();
    txn.txn->success = {{wire::Op::put, "a", "1", 0, false, false, 1000},
                        {wire::Op::put, "b", "1", 77, false, false, 1000}};
    const Applied refused = apply(txn);
    EXPECT_FALSE(refused.reply.ok);
    EXPECT_EQ(refused.reply.error, "not_found");
    EXPECT_FALSE(storage_->get("a"));
}

TEST_F(StateMachineTest, PrefixDeleteStopsAtItsLimit) {
    for (int i = 0; i < 5; ++i) apply(put("tmp/" + std::to_string(i), "v"));
    apply(put("tmq", "v"));
    wire::Command del;
    del.op = wire::Op::del;
    del.key = "tmp/";
    del.prefix = true;
    const Applied deleted = apply(del);
    EXPECT_EQ(*deleted.reply.deleted, 5u);
    EXPECT_FALSE(*deleted.reply.more);
    EXPECT_EQ(storage_->key_count(), 1u);
}

TEST(CompareHolds, MissingKeysAndEachTarget) {
    using wire::CompareResult;
    using wire::CompareTarget;
    const std::optional<storage::StoredValue> absent;
    const std::optional<storage::StoredValue> present =
        storage::StoredValue{"b", storage::KeyMeta{3, 9, 2, 5}};
    const auto holds = [](wire::Compare c, const std::optional<storage::StoredValue>& e) {
        return compare_holds(c, e);
    };
    EXPECT_FALSE(holds({"k", CompareTarget::value, CompareResult::ne, "x", 0}, absent));
    EXPECT_TRUE(holds({"k", CompareTarget::version, CompareResult::eq, "", 0}, absent));
    EXPECT_TRUE(holds({"k", CompareTarget::exists, CompareResult::eq, "", 0}, absent));
    EXPECT_TRUE(holds({"k", CompareTarget::exists, CompareResult::eq, "", 1}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::value, CompareResult::gt, "a", 0}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::value, CompareResult::lt, "ba", 0}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::create_revision, CompareResult::eq, "", 3}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::mod_revision, CompareResult::lt, "", 10}, present));
    EXPECT_FALSE(holds({"k", CompareTarget::mod_revision, CompareResult::gt, "", 9}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::lease, CompareResult::ne, "", 0}, present));
    EXPECT_TRUE(holds({"k", CompareTarget::version, CompareResult::gt, "", 1}, present));
}

}  // namespace
}  // namespace cabildo::node

namespace cabildo::node {
namespace {

TEST(LeaseClock, DueInDeadlineOrderAndNotTwiceWithinRetry) {
    LeaseClock clock;
    const auto t0 = LeaseClock::Clock::time_point{} + std::chrono::hours(1);
    clock.renew(1, 10, 2000, t0);
    clock.renew(2, 11, 1000, t0);
    clock.renew(3, 12, 5000, t0);
    EXPECT_TRUE(clock.take_due(t0 + std::chrono::milliseconds(999), 10, std::chrono::seconds(2))
                    .empty());
    EXPECT_EQ(clock.remaining_ms(3, t0 + std::chrono::milliseconds(1000)), 4000u);
    const auto due = clock.take_due(t0 + std::chrono::milliseconds(2500), 10, std::chrono::seconds(2));
    EXPECT_EQ(due, (std::vector<wire::LeaseExpiry>{{2, 11}, {1, 10}}));
    // Handed out: not again until the retry passed.
    EXPECT_TRUE(clock.take_due(t0 + std::chrono::milliseconds(3000), 10, std::chrono::seconds(2))
                    .empty());
    clock.renew(1, 20, 2000, t0 + std::chrono::milliseconds(3000));  // a keepalive applied
    clock.forget(2);                                                   // its expiry applied
    EXPECT_EQ(clock.size(), 2u);
    EXPECT_TRUE(clock.take_due(t0 + std::chrono::milliseconds(4999), 10, std::chrono::seconds(2))
                    .empty());
    EXPECT_EQ(clock.take_due(t0 + std::chrono::milliseconds(5000), 1, std::chrono::seconds(2)),
              (std::vector<wire::LeaseExpiry>{{1, 20}}));
}

}  // namespace
}  // namespace cabildo::node
