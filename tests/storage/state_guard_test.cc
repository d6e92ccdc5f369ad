// Tests of the unsynced state environment's recovery rule (StateGuard): a
// clean close or a crash of the process alone keeps the applied state; an
// OS crash (acted out with another boot id) discards it while the synced
// log survives; the older one-environment layout is refused; and the
// commit index, kept volatile between log writes, never falls below the
// applied index at open.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/databases.h"
#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::make_entries;
using testing::open_ok;
using testing::persist_ok;
using testing::TempDir;

Options boot(const std::string& id) {
    Options options;
    options.boot_id = id;
    return options;
}

// A node that logged 5 entries (term 2, voted 1) and applied 3 of them.
std::unique_ptr<Storage> open_with_state(const std::string& path, const std::string& boot_id) {
    auto storage = open_ok(path, boot(boot_id));
    if (storage == nullptr) return nullptr;
    persist_ok(*storage, make_entries(1, 5, 2), raft::HardState{2, 1, 3});
    auto txn = storage->begin_apply();
    EXPECT_TRUE(txn.ok());
    EXPECT_EQ(txn->put("k", "v"), Status::ok);
    txn->set_applied(3);
    commit_ok(*txn);
    return storage;
}

// What a crash leaves: the files as they are while the storage is open.
std::string crash_copy(const TempDir& dir) {
    const std::string copy = dir.path() + "/crashed";
    std::filesystem::copy(dir.db_path(), copy, std::filesystem::copy_options::recursive);
    return copy;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string marker(const std::string& path) {
    std::ifstream in(path + "/state-in-use");
    std::string text;
    in >> text;
    return text;
}

void expect_log_intact(const Storage& storage) {
    EXPECT_EQ(storage.last_index(), 5u);
    EXPECT_EQ(storage.hard_state().term, 2u);
    EXPECT_EQ(storage.hard_state().voted_for, 1u);
    EXPECT_EQ(storage.entries(1, 6, SIZE_MAX), make_entries(1, 5, 2));
}

TEST(StateGuardTest, CleanCloseIsTrustedAfterAReboot) {
    TempDir dir;
    ASSERT_NE(open_with_state(dir.db_path(), "boot-a"), nullptr);
    EXPECT_EQ(marker(dir.db_path()), "clean");
    auto storage = open_ok(dir.db_path(), boot("boot-b"));
    ASSERT_NE(storage, nullptr);
    EXPECT_FALSE(storage->state_discarded());
    EXPECT_EQ(storage->applied_index(), 3u);
    EXPECT_EQ(storage->get("k"), std::optional<std::string>("v"));
    expect_log_intact(*storage);
}

TEST(StateGuardTest, ProcessCrashIsTrustedInTheSameBoot) {
    TempDir dir;
    auto running = open_with_state(dir.db_path(), "boot-a");
    ASSERT_NE(running, nullptr);
    const std::string crashed = crash_copy(dir);
    EXPECT_TRUE(std::filesystem::exists(crashed + "/state-in-use"));
    auto storage = open_ok(crashed, boot("boot-a"));
    ASSERT_NE(storage, nullptr);
    EXPECT_FALSE(storage->state_discarded());
    EXPECT_EQ(storage->applied_index(), 3u);
    EXPECT_EQ(storage->get("k"), std::optional<std::string>("v"));
    expect_log_intact(*storage);
}

TEST(StateGuardTest, OsCrashDiscardsTheStateAndKeepsTheLog) {
    TempDir dir;
    auto running = open_with_state(dir.db_path(), "boot-a");
    ASSERT_NE(running, nullptr);
    const std::string crashed = crash_copy(dir);
    {
        auto storage = open_ok(crashed, boot("boot-b"));
        ASSERT_NE(storage, nullptr);
        EXPECT_TRUE(storage->state_discarded());
        EXPECT_EQ(storage->applied_index(), 0u);
        EXPECT_EQ(storage->get("k"), std::nullopt);
        EXPECT_EQ(storage->key_count(), 0u);
        expect_log_intact(*storage);
        // The node re-applies from index 1 into the fresh state.
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        EXPECT_EQ(txn->put("k", "v"), Status::ok);
        txn->set_applied(3);
        commit_ok(*txn);
    }
    auto reopened = open_ok(crashed, boot("boot-b"));
    ASSERT_NE(reopened, nullptr);
    EXPECT_FALSE(reopened->state_discarded());
    EXPECT_EQ(reopened->applied_index(), 3u);
}

TEST(StateGuardTest, MissingOrUnreadableMarkerMeansRebuildNeverTrust) {
    for (const bool unreadable : {false, true}) {
        SCOPED_TRACE(unreadable ? "unreadable marker" : "missing marker");
        TempDir dir;
        auto running = open_with_state(dir.db_path(), "boot-a");
        ASSERT_NE(running, nullptr);
        const std::string crashed = crash_copy(dir);
        const std::string path = crashed + "/state-in-use";
        std::filesystem::remove(path);
        if (unreadable) std::ofstream(path) << "";  // exists, says nothing
        auto storage = open_ok(crashed, boot("boot-a"));
        ASSERT_NE(storage, nullptr);
        EXPECT_TRUE(storage->state_discarded());
        EXPECT_NE(storage->discard_reason().find("marker"), std::string::npos);
        EXPECT_EQ(storage->applied_index(), 0u);
        expect_log_intact(*storage);
    }
}

TEST(StateGuardTest, FreshDirectoryIsNotADiscard) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_FALSE(storage->state_discarded());
}

TEST(StateGuardTest, SecondOpenOfALockedDirectoryTouchesNothing) {
    TempDir dir;
    auto running = open_with_state(dir.db_path(), "boot-a");
    ASSERT_NE(running, nullptr);
    const std::string log_before = read_file(dir.db_path() + "/raft.log");
    auto second = Storage::open(dir.db_path(), boot("boot-b"));  // even "after a reboot"
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().status, Status::locked);
    EXPECT_NE(second.error().detail.find("in use by process"), std::string::npos)
        << second.error().detail;
    EXPECT_EQ(marker(dir.db_path()), "boot-a");  // the first one's marker is intact
    EXPECT_EQ(read_file(dir.db_path() + "/raft.log"), log_before);
    EXPECT_EQ(running->get("k"), std::optional<std::string>("v"));
    running.reset();
    EXPECT_NE(open_ok(dir.db_path(), boot("boot-a")), nullptr);  // released with the first
}

TEST(StateGuardTest, LogEndingBeforeTheAppliedStateStopsTheNode) {
    TempDir dir;
    ASSERT_NE(open_with_state(dir.db_path(), "boot-a"), nullptr);  // applied 3 of 5
    // Stand in for a log that lost entries: a new one with 2 entries.
    std::filesystem::remove(dir.db_path() + "/raft.log");
    {
        auto log = LogFile::open(dir.db_path(), LogIdentity{});
        ASSERT_TRUE(log.ok());
        ASSERT_TRUE((*log)->append({2, 1, 0}, make_entries(1, 2, 2), 0).ok());
    }
    auto storage = Storage::open(dir.db_path(), boot("boot-a"));
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.error().status, Status::corrupt);
    EXPECT_NE(storage.error().detail.find("ends at index 2"), std::string::npos)
        << storage.error().detail;
}

TEST(StateGuardTest, AnotherStateFormatIsRebuiltFromTheLog) {
    TempDir dir;
    ASSERT_NE(open_with_state(dir.db_path(), "boot-a"), nullptr);  // closed cleanly
    {
        // Stamp the state as an older node would have left it.
        auto dbs = Databases::open(dir.db_path(), boot("boot-a"));
        ASSERT_TRUE(dbs.ok());
        Databases& d = **dbs;
        auto stamped = d.write("test", [&d](MDB_txn* txn) { return d.state_meta.set_format(txn, 2); });
        ASSERT_TRUE(stamped.ok());
        ASSERT_EQ(d.state_env->sync(), 0);
        ASSERT_TRUE(d.guard->mark_clean().ok());
    }
    auto storage = open_ok(dir.db_path(), boot("boot-a"));
    ASSERT_NE(storage, nullptr);
    EXPECT_TRUE(storage->state_discarded());
    EXPECT_NE(storage->discard_reason().find("state format 2"), std::string::npos)
        << storage->discard_reason();
    EXPECT_EQ(storage->applied_index(), 0u);
    EXPECT_EQ(storage->key_count(), 0u);
    expect_log_intact(*storage);
}

TEST(StateGuardTest, OlderLayoutIsRefused) {
    TempDir dir;
    std::filesystem::create_directories(dir.db_path());
    std::ofstream(dir.db_path() + "/data.mdb") << "old";
    auto storage = Storage::open(dir.db_path(), Options{});
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.error().status, Status::bad_request);
    EXPECT_NE(storage.error().detail.find("layout"), std::string::npos);
}

TEST(StateGuardTest, CommitIndexIsVolatileButNeverBelowApplied) {
    TempDir dir;
    {
        auto storage = open_ok(dir.db_path());
        ASSERT_NE(storage, nullptr);
        persist_ok(*storage, make_entries(1, 5, 2), raft::HardState{2, 1, 0});
        persist_ok(*storage, {}, raft::HardState{2, 1, 4});  // commit only: no write
        EXPECT_EQ(storage->hard_state().commit_index, 4u);
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        txn->set_applied(2);
        commit_ok(*txn);
    }
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    // Stored: commit 0; applied 2 proves entries up to 2 were committed.
    EXPECT_EQ(storage->hard_state(), (raft::HardState{2, 1, 2}));
    // A vote change is written at once, with the commit index known then.
    persist_ok(*storage, {}, raft::HardState{3, 2, 4});
    storage.reset();
    auto reopened = open_ok(dir.db_path());
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->hard_state(), (raft::HardState{3, 2, 4}));
}

}  // namespace
}  // namespace cabildo::storage
