// Tests that closing and reopening the environment keeps everything: log,
// hard state, kv, sessions, applied index; and that bad options are refused.
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

TEST(RestartTest, ReopenKeepsEverything) {
    TempDir dir;
    auto entries = make_entries(1, 20, 3, 50);
    raft::HardState hard_state{3, 2, 15};
    std::uint64_t hash = 0;
    {
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        persist_ok(*storage, make_entries(1, 25, 2));
        persist_ok(*storage, entries, hard_state);  // truncates 21..25
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("k1", "v1"), Status::ok);
        EXPECT_EQ(txn->put("k2", std::string(3000, 'v')), Status::ok);
        txn->set_session(42, 7, 15, "answer");
        txn->set_applied(15);
        commit_ok(*txn);
        hash = storage->state_hash();
    }
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->first_index(), 1u);
    EXPECT_EQ(storage->last_index(), 20u);
    EXPECT_EQ(storage->term_at(20), 3u);
    EXPECT_EQ(storage->term_at(21), std::nullopt);
    EXPECT_EQ(storage->entries(1, 21, SIZE_MAX), entries);
    EXPECT_EQ(storage->hard_state(), hard_state);
    EXPECT_EQ(storage->applied_index(), 15u);
    EXPECT_EQ(storage->get("k1"), "v1");
    EXPECT_EQ(storage->get("k2"), std::string(3000, 'v'));
    EXPECT_EQ(storage->session(42), (SessionRecord{7, 15, "answer"}));
    EXPECT_EQ(storage->state_hash(), hash);
    // And it keeps working: append after the reopened tail.
    persist_ok(*storage, make_entries(21, 1, 3));
    EXPECT_EQ(storage->term_at(21), 3u);
}

TEST(RestartTest, ManyReopens) {
    TempDir dir;
    for (raft::LogIndex round = 1; round <= 5; ++round) {
        SCOPED_TRACE(round);
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        EXPECT_EQ(storage->last_index(), round - 1);
        EXPECT_EQ(storage->applied_index(), round - 1);
        persist_ok(*storage, make_entries(round, 1, round), raft::HardState{round, 1, round});
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("round", std::to_string(round)), Status::ok);
        txn->set_applied(round);
        commit_ok(*txn);
    }
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->get("round"), "5");
    EXPECT_EQ(storage->hard_state(), (raft::HardState{5, 1, 5}));
}

TEST(RestartTest, BadOptionsRefused) {
    struct Case {
        const char* name;
        Options options;
    };
    const auto options = [](std::size_t initial, std::size_t max, std::size_t sessions,
                            std::uint64_t events_bytes) {
        Options o;
        o.map_bytes_initial = initial;
        o.map_bytes_max = max;
        o.sessions_max = sessions;
        o.events_max = 10;
        o.events_bytes_max = events_bytes;
        return o;
    };
    std::vector<Case> cases = {
        {"zero map", options(0, 1 << 20, 10, 1000)},
        {"initial above max", options(2 << 20, 1 << 20, 10, 1000)},
        {"no sessions", options(1 << 20, 1 << 20, 0, 1000)},
        {"no event bytes", options(1 << 20, 1 << 20, 10, 0)},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = Storage::open(dir.db_path(), c.options);
        ASSERT_FALSE(storage.ok());
        EXPECT_EQ(storage.error().status, Status::bad_request);
    }
}

TEST(RestartTest, UnusablePathIsAnError) {
    auto storage = Storage::open("/proc/cabildo-no-such-dir/db", Options{});
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.error().status, Status::io_error);
}

}  // namespace
}  // namespace cabildo::storage
