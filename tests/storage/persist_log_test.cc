// ApplyTxn::persist_log: a Ready's log part and its applied entries in one
// synced transaction (one fsync per Ready).
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::TempDir;

std::vector<raft::Entry> entries_from(raft::LogIndex first, std::size_t count, raft::Term term,
                                      std::size_t data_bytes = 8) {
    std::vector<raft::Entry> out;
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back({term, first + i, raft::EntryType::normal, std::string(data_bytes, 'd')});
    }
    return out;
}

std::unique_ptr<Storage> open_or_fail(const TempDir& dir, const Options& options = {}) {
    auto opened = Storage::open(dir.db_path(), options);
    EXPECT_TRUE(opened.ok());
    return opened.ok() ? std::move(*opened) : nullptr;
}

TEST(PersistLog, LogAndApplyCommitTogetherAndSurviveRestart) {
    TempDir dir;
    {
        auto storage = open_or_fail(dir);
        ASSERT_TRUE(storage->persist(raft::HardState{1, 1, 0}, entries_from(1, 2, 1)).ok());
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        txn->persist_log(raft::HardState{1, 1, 2}, entries_from(3, 3, 1));
        EXPECT_EQ(txn->put("k", "v"), Status::ok);
        txn->set_applied(2);
        ASSERT_TRUE(txn->commit().ok());
        EXPECT_EQ(storage->last_index(), 5u);
        EXPECT_EQ(storage->hard_state().commit_index, 2u);
    }
    auto storage = open_or_fail(dir);
    EXPECT_EQ(storage->last_index(), 5u);
    EXPECT_EQ(storage->hard_state().commit_index, 2u);
    EXPECT_EQ(storage->applied_index(), 2u);
    EXPECT_EQ(storage->get("k"), std::optional<std::string>("v"));
}

TEST(PersistLog, FailedCommitWritesNeither) {
    TempDir dir;
    auto storage = open_or_fail(dir);
    ASSERT_TRUE(storage->persist(raft::HardState{1, 1, 0}, entries_from(1, 1, 1)).ok());
    storage->set_fail_next_commits(1);
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        txn->persist_log(raft::HardState{2, 0, 1}, entries_from(2, 4, 2));
        EXPECT_EQ(txn->put("k", "v"), Status::ok);
        txn->set_applied(1);
        EXPECT_FALSE(txn->commit().ok());
    }
    EXPECT_EQ(storage->last_index(), 1u);
    EXPECT_EQ(storage->hard_state().term, 1u);
    EXPECT_EQ(storage->applied_index(), 0u);
    EXPECT_FALSE(storage->get("k").has_value());
}

TEST(PersistLog, MapFullReplayKeepsTheLogPart) {
    TempDir dir;
    Options options;
    options.map_bytes_initial = 1 << 20;
    auto storage = open_or_fail(dir, options);
    ASSERT_TRUE(storage->persist(raft::HardState{1, 1, 0}, entries_from(1, 1, 1)).ok());
    auto txn = storage->begin_apply();
    ASSERT_TRUE(txn.ok());
    // 4 MiB of entries and 4 MiB of values through a 1 MiB map.
    txn->persist_log(raft::HardState{1, 1, 1}, entries_from(2, 64, 1, 64 << 10));
    for (int i = 0; i < 64; ++i) {
        EXPECT_EQ(txn->put("k" + std::to_string(i), std::string(64 << 10, 'v')), Status::ok);
    }
    txn->set_applied(1);
    ASSERT_TRUE(txn->commit().ok());
    EXPECT_EQ(storage->last_index(), 65u);
    EXPECT_EQ(storage->entries(2, 66, SIZE_MAX).size(), 64u);
    EXPECT_EQ(storage->key_count(), 64u);
    EXPECT_GT(storage->map_bytes(), std::size_t{1} << 20);
}

}  // namespace
}  // namespace cabildo::storage
