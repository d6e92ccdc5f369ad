// Tests of ApplyTxn: kv writes, key size limits, atomicity of a batch with
// its applied index.
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::open_ok;
using testing::TempDir;

TEST(ApplyTxnTest, PutGetEraseAndApplied) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("a", "1"), Status::ok);
        EXPECT_EQ(txn->put("b", "2"), Status::ok);
        EXPECT_EQ(txn->put("a", "3"), Status::ok);  // overwrite
        EXPECT_EQ(txn->get("a"), "3");              // sees its own writes
        EXPECT_TRUE(txn->erase("b"));
        EXPECT_FALSE(txn->erase("b"));
        EXPECT_FALSE(txn->erase("never"));
        EXPECT_EQ(txn->get("b"), std::nullopt);
        EXPECT_EQ(txn->put("empty value", ""), Status::ok);
        txn->set_applied(7);
        EXPECT_EQ(storage->get("a"), std::nullopt);  // not yet committed
        EXPECT_EQ(storage->applied_index(), 0u);
        commit_ok(*txn);
    }
    EXPECT_EQ(storage->get("a"), "3");
    EXPECT_EQ(storage->get("b"), std::nullopt);
    EXPECT_EQ(storage->get("empty value"), "");
    EXPECT_EQ(storage->applied_index(), 7u);
    EXPECT_EQ(storage->key_count(), 2u);
}

TEST(ApplyTxnTest, KeySizes) {
    struct Case {
        const char* name;
        std::size_t key_bytes;
        Status put_status;
    };
    std::vector<Case> cases = {
        {"empty key", 0, Status::bad_request}, {"one byte", 1, Status::ok},
        {"511 bytes", 511, Status::ok},        {"512 bytes", 512, Status::too_large},
        {"4 KiB", 4096, Status::too_large},
    };
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        std::string key(c.key_bytes, 'k');
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put(key, "v"), c.put_status);
        commit_ok(*txn);
        bool stored = c.put_status == Status::ok;
        EXPECT_EQ(storage->get(key).has_value(), stored);
        auto erase_txn = storage->begin_apply();
        ASSERT_TRUE(erase_txn.ok());
        EXPECT_EQ(erase_txn->erase(key), stored);
        commit_ok(*erase_txn);
    }
}

TEST(ApplyTxnTest, UncommittedBatchLeavesNothing) {
    TempDir dir;
    {
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        testing::log_through(*storage, 2);
        auto first = storage->begin_apply();
        ASSERT_TRUE(first.ok());
        EXPECT_EQ(first->put("kept", "1"), Status::ok);
        first->set_applied(1);
        commit_ok(*first);
        {
            auto dropped = storage->begin_apply();
            ASSERT_TRUE(dropped.ok());
            EXPECT_EQ(dropped->put("lost", "2"), Status::ok);
            EXPECT_TRUE(dropped->erase("kept"));
            dropped->set_session(9, 1, 2, "reply");
            dropped->set_applied(2);
        }  // destroyed without commit: aborted
        EXPECT_EQ(storage->get("kept"), "1");
        EXPECT_EQ(storage->get("lost"), std::nullopt);
        EXPECT_EQ(storage->applied_index(), 1u);
    }
    auto reopened = open_ok(dir.db_path());
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->get("kept"), "1");
    EXPECT_EQ(reopened->get("lost"), std::nullopt);
    EXPECT_EQ(reopened->session(9), std::nullopt);
    EXPECT_EQ(reopened->applied_index(), 1u);
    EXPECT_EQ(reopened->key_count(), 1u);
}

TEST(ApplyTxnTest, MovedTxnCommitsOnce) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    auto result = storage->begin_apply();
    ASSERT_TRUE(result.ok());
    ApplyTxn txn = std::move(*result);
    EXPECT_EQ(txn.put("k", "v"), Status::ok);
    commit_ok(txn);
    EXPECT_EQ(storage->get("k"), "v");
    // The write lock is free again.
    auto next = storage->begin_apply();
    ASSERT_TRUE(next.ok());
}

}  // namespace
}  // namespace cabildo::storage
