// Tests of Storage as a raft::LogReader and of persist(): append, read back,
// bytes_max, suffix truncation, hard state.
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::make_entries;
using testing::open_ok;
using testing::persist_ok;
using testing::TempDir;
using testing::TmpdirInside;

TEST(LogTest, EmptyLog) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->first_index(), 1u);
    EXPECT_EQ(storage->last_index(), 0u);
    EXPECT_EQ(storage->term_at(0), 0u);
    EXPECT_EQ(storage->term_at(1), std::nullopt);
    EXPECT_TRUE(storage->entries(1, 1, 100).empty());
    EXPECT_EQ(storage->hard_state(), raft::HardState{});
    EXPECT_EQ(storage->applied_index(), 0u);
}

TEST(LogTest, AppendAndReadBack) {
    struct Case {
        const char* name;
        std::vector<std::size_t> batch_sizes;
        std::size_t data_bytes;
    };
    std::vector<Case> cases = {
        {"one entry", {1}, 0},
        {"one batch", {10}, 16},
        {"many batches", {1, 3, 7, 2}, 100},
        {"large entries", {3, 3}, 10000},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        std::vector<raft::Entry> all;
        for (std::size_t i = 0; i < c.batch_sizes.size(); ++i) {
            auto batch = make_entries(all.size() + 1, c.batch_sizes[i], i + 1, c.data_bytes);
            persist_ok(*storage, batch);
            all.insert(all.end(), batch.begin(), batch.end());
        }
        EXPECT_EQ(storage->first_index(), 1u);
        EXPECT_EQ(storage->last_index(), all.size());
        EXPECT_EQ(storage->entries(1, all.size() + 1, SIZE_MAX), all);
        for (const raft::Entry& entry : all) {
            EXPECT_EQ(storage->term_at(entry.index), entry.term);
        }
        EXPECT_EQ(storage->term_at(all.size() + 1), std::nullopt);
    }
}

TEST(LogTest, EntriesHonourBytesMax) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    persist_ok(*storage, make_entries(1, 10, 1, 100));  // 100 data bytes each
    struct Case {
        const char* name;
        raft::LogIndex lo, hi;
        std::size_t bytes_max;
        std::size_t count;
    };
    std::vector<Case> cases = {
        {"zero budget still returns one", 1, 11, 0, 1},
        {"budget below one entry returns one", 3, 11, 50, 1},
        {"exact budget for two", 1, 11, 200, 2},
        {"just under three", 1, 11, 299, 2},
        {"unlimited", 1, 11, SIZE_MAX, 10},
        {"hi bounds before budget", 4, 6, SIZE_MAX, 2},
        {"empty range", 5, 5, SIZE_MAX, 0},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        auto got = storage->entries(c.lo, c.hi, c.bytes_max);
        ASSERT_EQ(got.size(), c.count);
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].index, c.lo + i);
    }
}

TEST(LogTest, ReplaceConflictingSuffix) {
    struct Case {
        const char* name;
        raft::LogIndex from;
        std::size_t count;
        raft::LogIndex last_after;
    };
    // Stored: 1..10 at term 1. New entries at term 2 from `from`.
    std::vector<Case> cases = {
        {"shorter suffix", 5, 2, 6}, {"longer suffix", 5, 10, 14}, {"same length", 8, 3, 10},
        {"whole log", 1, 3, 3},      {"pure append", 11, 2, 12},   {"last entry only", 10, 1, 10},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        auto old = make_entries(1, 10, 1);
        persist_ok(*storage, old);
        auto replacement = make_entries(c.from, c.count, 2);
        persist_ok(*storage, replacement);
        EXPECT_EQ(storage->last_index(), c.last_after);
        auto expected = std::vector<raft::Entry>(old.begin(), old.begin() + (c.from - 1));
        expected.insert(expected.end(), replacement.begin(), replacement.end());
        EXPECT_EQ(storage->entries(1, c.last_after + 1, SIZE_MAX), expected);
        EXPECT_EQ(storage->term_at(c.last_after), 2u);
        EXPECT_EQ(storage->term_at(c.last_after + 1), std::nullopt);
        if (c.from > 1) {
            EXPECT_EQ(storage->term_at(c.from - 1), 1u);
        }
    }
}

TEST(LogTest, HardStateRoundTrip) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    raft::HardState first{3, 2, 0};
    persist_ok(*storage, {}, first);
    EXPECT_EQ(storage->hard_state(), first);
    // With entries, in the same transaction.
    raft::HardState second{4, 0, 2};
    persist_ok(*storage, make_entries(1, 3, 4), second);
    EXPECT_EQ(storage->hard_state(), second);
    EXPECT_EQ(storage->last_index(), 3u);
    // Entries alone leave the hard state alone.
    persist_ok(*storage, make_entries(4, 1, 4));
    EXPECT_EQ(storage->hard_state(), second);
    raft::HardState max{UINT64_MAX, UINT64_MAX, UINT64_MAX};
    persist_ok(*storage, {}, max);
    EXPECT_EQ(storage->hard_state(), max);
}

TEST(LogTest, RewritingCommittedEntryWithSameTermIsAllowed) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    persist_ok(*storage, make_entries(1, 5, 1), raft::HardState{1, 1, 3});
    persist_ok(*storage, make_entries(2, 4, 1));
    EXPECT_EQ(storage->last_index(), 5u);
}

TEST(LogDeathTest, TruncatingCommittedEntryAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    TempDir root;
    TmpdirInside tmpdir(root);
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    persist_ok(*storage, make_entries(1, 5, 1), raft::HardState{1, 1, 3});
    EXPECT_DEATH(storage->persist(std::nullopt, make_entries(3, 1, 2)).ok(), "committed entry");
    EXPECT_DEATH(storage->persist(std::nullopt, make_entries(2, 1, 1)).ok(),
                 "truncating a committed entry");
}

TEST(LogDeathTest, HoleInPersistAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    TempDir root;
    TmpdirInside tmpdir(root);
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    persist_ok(*storage, make_entries(1, 2, 1));
    EXPECT_DEATH(storage->persist(std::nullopt, make_entries(4, 1, 1)).ok(), "hole");
}

}  // namespace
}  // namespace cabildo::storage
