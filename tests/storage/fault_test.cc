// Tests of the fault hook set_fail_next_commits: an injected commit failure
// returns io_error and leaves the stored and cached state unchanged, and the
// next commit works.
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::make_entries;
using testing::open_ok;
using testing::persist_ok;
using testing::TempDir;

TEST(FaultTest, FailedPersistChangesNothing) {
    struct Case {
        const char* name;
        std::optional<raft::HardState> hard_state;
        raft::LogIndex from;
        std::size_t count;
    };
    std::vector<Case> cases = {
        {"hard state only", raft::HardState{2, 1, 3}, 0, 0},
        {"append", std::nullopt, 6, 3},
        {"truncate and append", raft::HardState{2, 0, 3}, 4, 1},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        raft::HardState before{1, 1, 3};
        auto stored = make_entries(1, 5, 1);
        persist_ok(*storage, stored, before);
        storage->set_fail_next_commits(1);
        auto entries = c.count == 0 ? std::vector<raft::Entry>{} : make_entries(c.from, c.count, 2);
        auto failed = storage->persist(c.hard_state, entries);
        ASSERT_FALSE(failed.ok());
        EXPECT_EQ(failed.error().status, Status::io_error);
        EXPECT_EQ(storage->hard_state(), before);
        EXPECT_EQ(storage->last_index(), 5u);
        EXPECT_EQ(storage->term_at(5), 1u);
        EXPECT_EQ(storage->entries(1, 6, SIZE_MAX), stored);
        storage.reset();
        storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        EXPECT_EQ(storage->hard_state(), before);
        EXPECT_EQ(storage->entries(1, 6, SIZE_MAX), stored);
        persist_ok(*storage, entries, c.hard_state);  // the hook was used up
    }
}

TEST(FaultTest, FailedApplyChangesNothing) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("k", "old"), Status::ok);
        txn->set_applied(1);
        commit_ok(*txn);
    }
    std::uint64_t hash = storage->state_hash();
    storage->set_fail_next_commits(2);
    for (int attempt = 0; attempt < 3; ++attempt) {
        SCOPED_TRACE(attempt);
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("k", "new"), Status::ok);
        EXPECT_EQ(txn->put("other", "x"), Status::ok);
        txn->set_session(1, 1, 2, "r");
        txn->set_applied(2);
        auto committed = txn->commit();
        if (attempt < 2) {
            ASSERT_FALSE(committed.ok());
            EXPECT_EQ(committed.error().status, Status::io_error);
            EXPECT_EQ(storage->get("k"), "old");
            EXPECT_EQ(storage->get("other"), std::nullopt);
            EXPECT_EQ(storage->session(1), std::nullopt);
            EXPECT_EQ(storage->applied_index(), 1u);
            EXPECT_EQ(storage->state_hash(), hash);
        } else {
            ASSERT_TRUE(committed.ok());
            EXPECT_EQ(storage->get("k"), "new");
            EXPECT_EQ(storage->applied_index(), 2u);
        }
    }
}

}  // namespace
}  // namespace cabildo::storage
