// Tests of client sessions: record, update, read-only lookup, deterministic
// oldest-first eviction past sessions_max.
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::open_ok;
using testing::TempDir;

void set_session(Storage& storage, std::uint64_t id, std::uint64_t seq, raft::LogIndex index) {
    auto txn = storage.begin_apply();
    ASSERT_TRUE(txn.ok());
    txn->set_session(id, seq, index, "reply " + std::to_string(seq));
    txn->set_applied(index);
    commit_ok(*txn);
}

TEST(SessionTest, RecordAndUpdate) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->session(5), std::nullopt);
    set_session(*storage, 5, 1, 10);
    EXPECT_EQ(storage->session(5), (SessionRecord{1, 10, "reply 1"}));
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->session(5), (SessionRecord{1, 10, "reply 1"}));
        txn->set_session(5, 2, 11, "reply 2");
        EXPECT_EQ(txn->session(5), (SessionRecord{2, 11, "reply 2"}));
        commit_ok(*txn);
    }
    EXPECT_EQ(storage->session(5), (SessionRecord{2, 11, "reply 2"}));
}

TEST(SessionTest, EvictsOldestFirst) {
    struct Case {
        const char* name;
        // (session id, index) in apply order; seq is always 1.
        std::vector<std::pair<std::uint64_t, raft::LogIndex>> uses;
        std::vector<std::uint64_t> kept;
        std::vector<std::uint64_t> evicted;
    };
    std::vector<Case> cases = {
        {"under the limit", {{1, 1}, {2, 2}, {3, 3}}, {1, 2, 3}, {}},
        {"one past", {{1, 1}, {2, 2}, {3, 3}, {4, 4}}, {2, 3, 4}, {1}},
        {"reuse refreshes age", {{1, 1}, {2, 2}, {3, 3}, {1, 4}, {4, 5}}, {1, 3, 4}, {2}},
        {"ids do not matter, index does",
         {{9, 1}, {1, 2}, {5, 3}, {7, 4}, {3, 5}},
         {5, 7, 3},
         {9, 1}},
    };
    Options options;
    options.sessions_max = 3;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path(), options);
        ASSERT_NE(storage, nullptr);
        for (auto [id, index] : c.uses) set_session(*storage, id, 1, index);
        for (std::uint64_t id : c.kept) EXPECT_TRUE(storage->session(id).has_value()) << id;
        for (std::uint64_t id : c.evicted) EXPECT_FALSE(storage->session(id).has_value()) << id;
    }
}

TEST(SessionTest, EvictionWithinOneBatch) {
    TempDir dir;
    Options options;
    options.sessions_max = 2;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    auto txn = storage->begin_apply();
    ASSERT_TRUE(txn.ok());
    for (std::uint64_t id = 1; id <= 5; ++id) txn->set_session(id, 1, 100 + id, "r");
    EXPECT_EQ(txn->session(3), std::nullopt);
    EXPECT_TRUE(txn->session(4).has_value());
    commit_ok(*txn);
    EXPECT_EQ(storage->session(3), std::nullopt);
    EXPECT_TRUE(storage->session(4).has_value());
    EXPECT_TRUE(storage->session(5).has_value());
}

}  // namespace
}  // namespace cabildo::storage
