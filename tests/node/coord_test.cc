// Locks, elections and queues in the state machine (state_machine_mutex.cc,
// state_machine_queue.cc): FIFO grants with strictly increasing fencing
// tokens, one grant per entry and name, waiters leaving (timeout, lease
// loss), and queues' delivery, acknowledgement, give-back and limits.
#include <gtest/gtest.h>

#include "node/state_machine.h"
#include "tests/node/state_machine_fixture.h"
#include "wire/command.h"
#include "wire/coord.h"

namespace cabildo::node {
namespace {

class CoordTest : public StateMachineTest {
protected:
    std::uint64_t grant(std::uint64_t ttl = 5000) {
        const Applied a = apply(lease_op(wire::Op::lease_grant, 0, ttl));
        EXPECT_TRUE(a.reply.ok);
        return a.reply.lease->id;
    }
    static wire::Command mutex_op(wire::Op op, std::string name, std::uint64_t lease,
                                  bool wait = true, std::string value = "") {
        wire::Command c;
        c.op = op;
        c.name = std::move(name);
        c.lease = lease;
        c.wait = wait && (op == wire::Op::lock || op == wire::Op::campaign);
        c.value = std::move(value);
        return c;
    }
    static wire::Command queue_op(wire::Op op, std::string queue, std::string value = "") {
        wire::Command c;
        c.op = op;
        c.name = std::move(queue);
        c.value = std::move(value);
        if (op == wire::Op::queue_get) c.ttl_ms = 1000;
        return c;
    }
    static wire::Command expire(std::uint64_t lease, std::uint64_t renewed) {
        wire::Command c;
        c.op = wire::Op::lease_expire;
        c.expiries = {{lease, renewed}};
        return c;
    }
    std::uint64_t record_token(const std::string& name,
                               wire::MutexKind kind = wire::MutexKind::lock) {
        auto record = storage_->get_entry(wire::mutex_base(kind, name));
        return record ? record->meta.create_revision : 0;
    }
    static bool granted(const Applied& a, const std::string& key) {
        for (const Wake& w : a.wakes) {
            if (w.kind == Wake::Kind::granted && w.key == key) return true;
        }
        return false;
    }
};

TEST_F(CoordTest, GrantsInArrivalOrderWithIncreasingTokens) {
    const std::uint64_t a = grant(), b = grant(), c = grant();
    const Applied first = apply(mutex_op(wire::Op::lock, "build", a));
    ASSERT_TRUE(*first.reply.succeeded);
    EXPECT_EQ(*first.reply.token, first.index);
    EXPECT_EQ(record_token("build"), first.index);
    const Applied second = apply(mutex_op(wire::Op::lock, "build", b));
    const Applied third = apply(mutex_op(wire::Op::lock, "build", c));
    EXPECT_FALSE(*second.reply.succeeded);
    EXPECT_FALSE(*third.reply.succeeded);
    ASSERT_TRUE(second.reply.key && third.reply.key);

    const Applied release_a = apply(mutex_op(wire::Op::unlock, "build", a));
    EXPECT_TRUE(*release_a.reply.succeeded);
    EXPECT_TRUE(granted(release_a, *second.reply.key));
    EXPECT_FALSE(granted(release_a, *third.reply.key));  // only the next waiter
    EXPECT_EQ(record_token("build"), release_a.index);
    EXPECT_GT(release_a.index, *first.reply.token);

    const Applied release_b = apply(mutex_op(wire::Op::unlock, "build", b));
    EXPECT_TRUE(granted(release_b, *third.reply.key));
    EXPECT_EQ(record_token("build"), release_b.index);
    apply(mutex_op(wire::Op::unlock, "build", c));
    EXPECT_FALSE(storage_->get_entry(wire::mutex_base(wire::MutexKind::lock, "build")));
}

TEST_F(CoordTest, TryLockOfAHeldLockLeavesNothing) {
    const std::uint64_t a = grant(), b = grant();
    apply(mutex_op(wire::Op::lock, "x", a));
    const Applied tried = apply(mutex_op(wire::Op::lock, "x", b, /*wait=*/false));
    EXPECT_TRUE(tried.reply.ok);
    EXPECT_FALSE(*tried.reply.succeeded);
    EXPECT_FALSE(tried.reply.key);
    EXPECT_TRUE(tried.events.empty());
    const Applied release = apply(mutex_op(wire::Op::unlock, "x", a));
    EXPECT_TRUE(release.wakes.size() == 1);  // a's removal; nobody to grant
    EXPECT_EQ(record_token("x"), 0u);
}

TEST_F(CoordTest, ARetryOfTheSameLeaseKeepsItsPlaceAndToken) {
    const std::uint64_t a = grant(), b = grant();
    const Applied first = apply(mutex_op(wire::Op::lock, "x", a));
    const Applied again = apply(mutex_op(wire::Op::lock, "x", a));
    EXPECT_TRUE(*again.reply.succeeded);
    EXPECT_EQ(*again.reply.token, *first.reply.token);
    EXPECT_EQ(*again.reply.key, *first.reply.key);
    const Applied waiting = apply(mutex_op(wire::Op::lock, "x", b));
    const Applied waiting_again = apply(mutex_op(wire::Op::lock, "x", b));
    EXPECT_FALSE(*waiting_again.reply.succeeded);
    EXPECT_EQ(*waiting_again.reply.key, *waiting.reply.key);
}

TEST_F(CoordTest, ALeaseThatEndsReleasesAndLeavesTheQueue) {
    const std::uint64_t a = grant(), b = grant(), c = grant();
    apply(mutex_op(wire::Op::lock, "x", a));
    const Applied wb = apply(mutex_op(wire::Op::lock, "x", b));
    const Applied wc = apply(mutex_op(wire::Op::lock, "x", c));
    // A waiter's lease ends: it is woken as removed and skipped later.
    const Applied revoked = apply(lease_op(wire::Op::lease_revoke, b));
    ASSERT_EQ(revoked.wakes.size(), 1u);
    EXPECT_EQ(revoked.wakes[0], (Wake{Wake::Kind::removed, *wb.reply.key, 0}));
    // The holder's lease expires: the next live waiter is granted.
    const Applied expired = apply(expire(a, a));
    EXPECT_TRUE(granted(expired, *wc.reply.key));
    EXPECT_EQ(record_token("x"), expired.index);
}

// Holder and next waiter end in one entry: the one behind them is granted
// once, at that revision, and the removed waiter is never told it held.
TEST_F(CoordTest, OneGrantPerEntryWhenSeveralLeasesEnd) {
    const std::uint64_t a = grant(), b = grant(), c = grant();
    apply(mutex_op(wire::Op::lock, "x", a));
    const Applied wb = apply(mutex_op(wire::Op::lock, "x", b));
    const Applied wc = apply(mutex_op(wire::Op::lock, "x", c));
    wire::Command both;
    both.op = wire::Op::lease_expire;
    both.expiries = {{a, a}, {b, b}};
    const Applied expired = apply(both);
    int grants = 0;
    for (const Wake& w : expired.wakes) grants += w.kind == Wake::Kind::granted ? 1 : 0;
    EXPECT_EQ(grants, 1);
    EXPECT_FALSE(granted(expired, *wb.reply.key));
    EXPECT_TRUE(granted(expired, *wc.reply.key));
    EXPECT_EQ(record_token("x"), expired.index);
}

TEST_F(CoordTest, WaitCancelLeavesUnlessGrantedFirst) {
    const std::uint64_t a = grant(), b = grant();
    apply(mutex_op(wire::Op::lock, "x", a));
    const Applied wb = apply(mutex_op(wire::Op::lock, "x", b));
    wire::Command cancel;
    cancel.op = wire::Op::wait_cancel;
    cancel.key = *wb.reply.key;
    const Applied left = apply(cancel);
    EXPECT_TRUE(left.reply.ok);
    EXPECT_FALSE(*left.reply.succeeded);
    EXPECT_FALSE(storage_->get_entry(*wb.reply.key));
    // Granted before its cancel committed: the cancel answers the grant.
    const Applied wb2 = apply(mutex_op(wire::Op::lock, "x", b));
    const Applied release = apply(mutex_op(wire::Op::unlock, "x", a));
    ASSERT_TRUE(granted(release, *wb2.reply.key));
    cancel.key = *wb2.reply.key;
    const Applied late = apply(cancel);
    EXPECT_TRUE(*late.reply.succeeded);
    EXPECT_EQ(*late.reply.token, release.index);
    EXPECT_TRUE(storage_->get_entry(*wb2.reply.key));
    // Its lease gone meanwhile: not_found.
    apply(lease_op(wire::Op::lease_revoke, b));
    EXPECT_EQ(apply(cancel).reply.error, wire::error_not_found);
}

TEST_F(CoordTest, UnlockByTokenOnlyForThatGrantAndByKey) {
    const std::uint64_t a = grant(), b = grant();
    const Applied held = apply(mutex_op(wire::Op::lock, "x", a));
    wire::Command by_token = mutex_op(wire::Op::unlock, "x", 0);
    by_token.token = *held.reply.token + 1;
    EXPECT_FALSE(*apply(by_token).reply.succeeded);
    by_token.token = *held.reply.token;
    EXPECT_TRUE(*apply(by_token).reply.succeeded);
    const Applied wb = apply(mutex_op(wire::Op::lock, "x", b));
    wire::Command by_key;
    by_key.op = wire::Op::unlock;
    by_key.key = *wb.reply.key;
    EXPECT_TRUE(*apply(by_key).reply.succeeded);
    EXPECT_FALSE(*apply(by_key).reply.succeeded);  // gone already
}

TEST_F(CoordTest, LockOnAMissingLeaseIsNotFound) {
    EXPECT_EQ(apply(mutex_op(wire::Op::lock, "x", 999)).reply.error, wire::error_not_found);
}

TEST_F(CoordTest, ProclaimKeepsTheLeadershipToken) {
    const std::uint64_t a = grant(), b = grant();
    const Applied won = apply(mutex_op(wire::Op::campaign, "db", a, true, "n1"));
    apply(mutex_op(wire::Op::campaign, "db", b, true, "n2"));
    const Applied proclaimed = apply(mutex_op(wire::Op::proclaim, "db", a, false, "n1b"));
    EXPECT_TRUE(*proclaimed.reply.succeeded);
    EXPECT_EQ(*proclaimed.reply.token, *won.reply.token);
    auto record = storage_->get_entry(wire::mutex_base(wire::MutexKind::election, "db"));
    ASSERT_TRUE(record);
    EXPECT_EQ(record->value, "n1b");
    EXPECT_EQ(record->meta.create_revision, *won.reply.token);
    EXPECT_FALSE(*apply(mutex_op(wire::Op::proclaim, "db", b, false, "n2b")).reply.succeeded);
    const Applied resigned = apply(mutex_op(wire::Op::resign, "db", a));
    EXPECT_TRUE(*resigned.reply.succeeded);
    record = storage_->get_entry(wire::mutex_base(wire::MutexKind::election, "db"));
    ASSERT_TRUE(record);
    EXPECT_EQ(record->value, "n2");
    EXPECT_EQ(record->meta.create_revision, resigned.index);
}

TEST_F(CoordTest, QueueDeliversInOrderAndAckRemoves) {
    EXPECT_EQ(*apply(queue_op(wire::Op::queue_put, "jobs", "a")).reply.item, 1u);
    EXPECT_EQ(*apply(queue_op(wire::Op::queue_put, "jobs", "bb")).reply.item, 2u);
    const Applied got = apply(queue_op(wire::Op::queue_get, "jobs"));
    ASSERT_TRUE(*got.reply.succeeded);
    EXPECT_EQ(*got.reply.item, 1u);
    EXPECT_EQ(**got.reply.value, "a");
    const Applied next = apply(queue_op(wire::Op::queue_get, "jobs"));
    EXPECT_EQ(*next.reply.item, 2u);  // 1 is in flight: never delivered twice at once
    EXPECT_FALSE(*apply(queue_op(wire::Op::queue_get, "jobs")).reply.succeeded);
    wire::Command ack = queue_op(wire::Op::queue_ack, "jobs");
    ack.item = 1;
    ack.lease = *next.reply.receipt;  // the wrong receipt
    EXPECT_FALSE(*apply(ack).reply.succeeded);
    ack.lease = *got.reply.receipt;
    EXPECT_TRUE(*apply(ack).reply.succeeded);
    EXPECT_FALSE(storage_->lease(*got.reply.receipt));
    const auto meta = wire::decode_queue_meta(*storage_->get(wire::queue_base("jobs")));
    EXPECT_EQ(meta, (wire::QueueMeta{3, 1, 2, 1}));
}

TEST_F(CoordTest, AnExpiredReceiptGivesTheItemBackInItsPlace) {
    apply(queue_op(wire::Op::queue_put, "jobs", "a"));
    apply(queue_op(wire::Op::queue_put, "jobs", "b"));
    const Applied got = apply(queue_op(wire::Op::queue_get, "jobs"));
    const std::uint64_t receipt = *got.reply.receipt;
    const Applied expired = apply(expire(receipt, got.index));
    ASSERT_EQ(expired.queue_ready.size(), 1u);
    EXPECT_EQ(expired.queue_ready[0], (QueueReady{"jobs", 1}));
    const Applied again = apply(queue_op(wire::Op::queue_get, "jobs"));
    EXPECT_EQ(*again.reply.item, 1u);  // before item 2
    wire::Command stale = queue_op(wire::Op::queue_ack, "jobs");
    stale.item = 1;
    stale.lease = receipt;
    EXPECT_FALSE(*apply(stale).reply.succeeded);
}

TEST_F(CoordTest, AFullQueueRefusesAndStoresNothing) {
    wire::Command put = queue_op(wire::Op::queue_put, "small", "12345");
    put.items_max = 2;
    put.bytes_max = 8;
    EXPECT_TRUE(apply(put).reply.ok);
    EXPECT_EQ(apply(put).reply.error, wire::error_queue_full);  // 10 bytes > 8
    put.value = "1";
    EXPECT_TRUE(apply(put).reply.ok);
    EXPECT_EQ(apply(put).reply.error, wire::error_queue_full);  // 3 items > 2
    const auto meta = wire::decode_queue_meta(*storage_->get(wire::queue_base("small")));
    EXPECT_EQ(meta.items, 2u);
    EXPECT_EQ(meta.bytes, 6u);
}

TEST_F(CoordTest, APrefixDeletePassesOverCoordinationKeys) {
    const std::uint64_t a = grant();
    apply(mutex_op(wire::Op::lock, "x", a));
    apply(put("_a", "1"));
    apply(put("_z", "1"));
    wire::Command del;
    del.op = wire::Op::del;
    del.key = "_";
    del.prefix = true;
    const Applied deleted = apply(del);
    EXPECT_EQ(*deleted.reply.deleted, 2u);
    EXPECT_FALSE(*deleted.reply.more);
    EXPECT_TRUE(storage_->get_entry(wire::mutex_base(wire::MutexKind::lock, "x")));
}

}  // namespace
}  // namespace cabildo::node
