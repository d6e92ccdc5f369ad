// Tests of MDB_MAP_FULL handling: a 1 MiB map takes 10 MiB through ApplyTxn
// (growing and replaying), and a map at map_bytes_max fails cleanly with
// storage_full; 10 MiB of log through persist() do not touch the map.
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::FileSizeLimit;
using testing::make_entries;
using testing::open_ok;
using testing::persist_ok;
using testing::TempDir;

constexpr std::size_t mib = 1 << 20;
constexpr std::size_t value_bytes = 256 << 10;
constexpr std::size_t value_count = 40;  // 10 MiB

Options small_map() {
    Options options;
    options.map_bytes_initial = mib;
    return options;
}

std::string value_for(std::size_t i) {
    return std::string(value_bytes, static_cast<char>('a' + i % 26));
}
std::string key_for(std::size_t i) {
    return "key/" + std::to_string(i);
}

void apply_values(Storage& storage, std::size_t per_batch) {
    for (std::size_t i = 0; i < value_count; i += per_batch) {
        auto txn = storage.begin_apply();
        ASSERT_TRUE(txn.ok());
        for (std::size_t j = i; j < i + per_batch && j < value_count; ++j) {
            ASSERT_EQ(txn->put(key_for(j), value_for(j)), Status::ok);
            ASSERT_EQ(txn->get(key_for(j)), value_for(j));
            txn->set_session(j, 1, j + 1, value_for(j).substr(0, 1000));
        }
        testing::log_through(storage, i + per_batch);
        txn->set_applied(i + per_batch);
        commit_ok(*txn);
    }
}

void expect_values(const Storage& storage) {
    EXPECT_EQ(storage.key_count(), value_count);
    for (std::size_t i = 0; i < value_count; ++i) {
        EXPECT_EQ(storage.get(key_for(i)), value_for(i)) << i;
        EXPECT_TRUE(storage.session(i).has_value()) << i;
    }
}

// The log is a file of its own (LogFile): it is not bounded by the map.
TEST(MapGrowthTest, LogIsNotBoundByTheMap) {
    struct Case {
        const char* name;
        std::size_t per_batch;
    };
    std::vector<Case> cases = {{"one entry per batch", 1}, {"8 per batch", 8}, {"one batch", 40}};
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path(), small_map());
        ASSERT_NE(storage, nullptr);
        auto all = make_entries(1, value_count, 1, value_bytes);
        for (std::size_t i = 0; i < all.size(); i += c.per_batch) {
            std::size_t end = std::min(all.size(), i + c.per_batch);
            persist_ok(*storage, {all.begin() + i, all.begin() + end}, raft::HardState{1, 1, i});
        }
        EXPECT_EQ(storage->map_bytes(), mib);
        EXPECT_EQ(storage->entries(1, value_count + 1, SIZE_MAX), all);
        storage.reset();
        auto reopened = open_ok(dir.db_path(), small_map());
        ASSERT_NE(reopened, nullptr);
        EXPECT_EQ(reopened->entries(1, value_count + 1, SIZE_MAX), all);
    }
}

TEST(MapGrowthTest, ApplyGrowsTheMapAndReplays) {
    struct Case {
        const char* name;
        std::size_t per_batch;
    };
    std::vector<Case> cases = {{"one put per batch", 1}, {"8 per batch", 8}, {"one batch", 40}};
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path(), small_map());
        ASSERT_NE(storage, nullptr);
        apply_values(*storage, c.per_batch);
        EXPECT_GE(storage->map_bytes(), 10 * mib);
        expect_values(*storage);
        EXPECT_EQ(storage->applied_index(), value_count);
        storage.reset();
        auto reopened = open_ok(dir.db_path(), small_map());
        ASSERT_NE(reopened, nullptr);
        expect_values(*reopened);
        // The map keeps the data's size on reopen, and still grows.
        auto txn = reopened->begin_apply();
        ASSERT_TRUE(txn.ok());
        ASSERT_EQ(txn->put("more", std::string(4 * mib, 'm')), Status::ok);
        commit_ok(*txn);
        EXPECT_EQ(reopened->get("more")->size(), 4 * mib);
    }
}

// MDB_MAP_FULL can also come from mdb_txn_commit (saving the free list needs
// pages) after every put succeeded. Which batch size hits that depends on the
// page layout; with 4 KiB pages one of these sizes does (seen with gcov), and
// every size must come out right either way.
TEST(MapGrowthTest, ApplyCommitHittingMapFullReplays) {
    for (std::size_t count = 270; count <= 285; ++count) {
        SCOPED_TRACE(count);
        TempDir dir;
        auto storage = open_ok(dir.db_path(), small_map());
        ASSERT_NE(storage, nullptr);
        std::string value(9000, 'v');
        for (bool erase : {false, true}) {  // leave free pages behind
            auto txn = storage->begin_apply();
            ASSERT_TRUE(txn.ok());
            for (std::size_t i = 0; i < 60; ++i) {
                if (erase) {
                    EXPECT_TRUE(txn->erase("old/" + std::to_string(i)));
                } else {
                    EXPECT_EQ(txn->put("old/" + std::to_string(i), value), Status::ok);
                }
            }
            commit_ok(*txn);
        }
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        for (std::size_t i = 0; i < count; ++i) {
            ASSERT_EQ(txn->put(key_for(i), value), Status::ok);
        }
        txn->set_applied(count);
        commit_ok(*txn);
        EXPECT_EQ(storage->key_count(), count);
        EXPECT_EQ(storage->applied_index(), count);
        EXPECT_EQ(storage->get(key_for(count - 1)), value);
    }
}

TEST(MapGrowthTest, MapAtMaximumGivesStorageFull) {
    TempDir dir;
    Options options = small_map();
    options.map_bytes_max = 2 * mib;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("small", "1"), Status::ok);
        EXPECT_EQ(txn->put("huge", std::string(4 * mib, 'h')), Status::storage_full);
        EXPECT_EQ(txn->get("small"), std::nullopt);  // failed: reads nothing
        auto committed = txn->commit();
        ASSERT_FALSE(committed.ok());
        EXPECT_EQ(committed.error().status, Status::storage_full);
    }
    EXPECT_EQ(storage->get("small"), std::nullopt);
    // Small writes still work after the failure.
    auto txn = storage->begin_apply();
    ASSERT_TRUE(txn.ok());
    EXPECT_EQ(txn->put("small", "1"), Status::ok);
    commit_ok(*txn);
    EXPECT_EQ(storage->get("small"), "1");
}

// The map's file has its blocks allocated before LMDB writes through the
// mapping (env.h): a disk with no room for a bigger map gives storage_full,
// not SIGBUS, and the batch can be applied once there is room.
TEST(MapGrowthTest, DiskWithoutRoomForGrowthGivesStorageFull) {
    TempDir dir;
    auto storage = open_ok(dir.db_path(), small_map());
    ASSERT_NE(storage, nullptr);
    const auto apply_big = [&](Status want) {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("small", "1"), Status::ok);
        EXPECT_EQ(txn->put("big", std::string(mib + mib / 2, 'b')), want);
        txn->set_applied(1);
        EXPECT_EQ(txn->commit().ok(), want == Status::ok);
    };
    {
        FileSizeLimit limit(mib + mib / 2);  // the doubled map does not fit
        apply_big(Status::storage_full);
    }
    EXPECT_EQ(storage->get("small"), std::nullopt);
    EXPECT_EQ(storage->applied_index(), 0u);
    EXPECT_EQ(storage->map_bytes(), mib);
    apply_big(Status::ok);
    EXPECT_EQ(storage->get("big")->size(), mib + mib / 2);
}

}  // namespace
}  // namespace cabildo::storage
