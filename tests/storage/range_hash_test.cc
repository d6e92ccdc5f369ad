// Tests of the read side: range() with prefix, limit and `more`; state_hash()
// equal for equal content and different otherwise; key_count().
#include <gtest/gtest.h>

#include <map>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::open_ok;
using testing::TempDir;

using Kvs = std::map<std::string, std::string>;

void apply(Storage& storage, const Kvs& kvs, raft::LogIndex applied) {
    auto txn = storage.begin_apply();
    ASSERT_TRUE(txn.ok());
    for (const auto& [key, value] : kvs) ASSERT_EQ(txn->put(key, value), Status::ok);
    txn->set_applied(applied);
    commit_ok(*txn);
}

TEST(RangeTest, PrefixLimitMore) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    apply(*storage,
          {{"a", "0"}, {"app/1", "1"}, {"app/2", "2"}, {"app/3", "3"}, {"apq", "4"}, {"b", "5"}},
          12);
    struct Case {
        const char* name;
        std::string prefix;
        std::size_t limit;
        std::vector<std::string> keys;
        bool more;
    };
    std::vector<Case> cases = {
        {"all keys", "", 100, {"a", "app/1", "app/2", "app/3", "apq", "b"}, false},
        {"empty prefix limited", "", 2, {"a", "app/1"}, true},
        {"prefix exact fit", "app/", 3, {"app/1", "app/2", "app/3"}, false},
        {"prefix limited", "app/", 2, {"app/1", "app/2"}, true},
        {"prefix shared by more", "ap", 10, {"app/1", "app/2", "app/3", "apq"}, false},
        {"prefix is a key", "a", 1, {"a"}, true},
        {"no match between keys", "ab", 10, {}, false},
        {"no match past the end", "c", 10, {}, false},
        {"limit zero", "app/", 0, {}, true},
        {"oversize prefix", std::string(600, 'a'), 10, {}, false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Storage::RangeResult result = storage->range(c.prefix, c.limit);
        std::vector<std::string> keys;
        for (const auto& kv : result.kvs) keys.push_back(kv.first);
        EXPECT_EQ(keys, c.keys);
        EXPECT_EQ(result.more, c.more);
        EXPECT_EQ(result.applied_index, 12u);
    }
    EXPECT_EQ(storage->range("app/2", 1).kvs.at(0).second, "2");
}

TEST(StateHashTest, EqualForEqualContent) {
    struct Case {
        const char* name;
        Kvs left;
        raft::LogIndex left_applied;
        Kvs right;
        raft::LogIndex right_applied;
        bool equal;
    };
    std::vector<Case> cases = {
        {"both empty", {}, 0, {}, 0, true},
        {"same content", {{"a", "1"}, {"b", "2"}}, 5, {{"a", "1"}, {"b", "2"}}, 5, true},
        {"different value", {{"a", "1"}}, 5, {{"a", "2"}}, 5, false},
        {"different key", {{"a", "1"}}, 5, {{"b", "1"}}, 5, false},
        // The hash covers the pairs alone; compare it at equal applied indexes.
        {"different applied", {{"a", "1"}}, 5, {{"a", "1"}}, 6, true},
        {"extra key", {{"a", "1"}}, 5, {{"a", "1"}, {"b", ""}}, 5, false},
        {"boundary moved", {{"ab", "c"}}, 5, {{"a", "bc"}}, 5, false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir left_dir, right_dir;
        auto left = open_ok(left_dir.db_path());
        auto right = open_ok(right_dir.db_path());
        ASSERT_NE(left, nullptr);
        ASSERT_NE(right, nullptr);
        apply(*left, c.left, c.left_applied);
        apply(*right, c.right, c.right_applied);
        EXPECT_EQ(left->state_hash() == right->state_hash(), c.equal);
        EXPECT_EQ(left->key_count(), c.left.size());
    }
}

TEST(StateHashTest, IndependentOfWriteOrder) {
    TempDir left_dir, right_dir;
    auto left = open_ok(left_dir.db_path());
    auto right = open_ok(right_dir.db_path());
    ASSERT_NE(left, nullptr);
    ASSERT_NE(right, nullptr);
    apply(*left, {{"x", "1"}}, 1);
    apply(*left, {{"y", "2"}, {"z", "gone"}}, 2);
    auto txn = left->begin_apply();
    ASSERT_TRUE(txn.ok());
    EXPECT_TRUE(txn->erase("z"));
    txn->set_applied(3);
    commit_ok(*txn);
    apply(*right, {{"y", "2"}, {"x", "1"}}, 3);
    EXPECT_EQ(left->state_hash(), right->state_hash());
}

// The incremental hash (updated per write) always equals the sum computed
// by a full scan: over overwrites, erases of present and absent keys,
// batches that are aborted, a reopen, and a batch replayed after the map
// grew (MDB_MAP_FULL), in which every write runs twice.
TEST(StateHashTest, IncrementalEqualsAFullScan) {
    TempDir dir;
    Options options;
    options.map_bytes_initial = 1 << 20;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    std::uint64_t seed = 42;
    const auto next = [&seed] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return seed >> 33;
    };
    raft::LogIndex applied = 0;
    for (int batch = 0; batch < 40; ++batch) {
        testing::log_through(*storage, applied + 1);
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        for (int i = 0; i < 50; ++i) {
            const std::string key = "k" + std::to_string(next() % 300);
            if (next() % 4 == 0) {
                txn->erase(key);
            } else {
                // Now and then a large value, so that the map must grow.
                const std::size_t size = next() % 20 == 0 ? 64 << 10 : next() % 100;
                ASSERT_EQ(txn->put(key, std::string(size, static_cast<char>('a' + i % 26))),
                          Status::ok);
            }
        }
        txn->set_applied(++applied);
        if (batch % 7 == 3) continue;  // dropped: aborted, nothing changes
        commit_ok(*txn);
        ASSERT_EQ(storage->state_hash(), storage->state_hash_by_scan()) << "batch " << batch;
    }
    EXPECT_GT(storage->map_bytes(), std::size_t{1} << 20);  // it did grow and replay
    EXPECT_NE(storage->state_hash(), 0u);
    const std::uint64_t before = storage->state_hash();
    storage.reset();
    storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->state_hash(), before);
    EXPECT_EQ(storage->state_hash_by_scan(), before);
}

}  // namespace
}  // namespace cabildo::storage
