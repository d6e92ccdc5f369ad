// Tests of snapshots, log segments and compaction: a snapshot file holds the
// applied state exactly and installs into another node's storage; a damaged
// file is refused and changes nothing; compaction deletes whole segments; a
// node whose applied state is lost after compaction comes back from its
// snapshot.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>

#include "storage/codec.h"
#include "storage/databases.h"
#include "storage/snapshot_file.h"
#include "storage/snapshot_taker.h"
#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::make_entries;
using testing::open_ok;
using testing::persist_ok;
using testing::TempDir;

constexpr raft::Term term = 3;

Options small_segments(std::string boot = "boot-1") {
    Options options;
    options.log_segment_bytes = 4096;
    options.boot_id = std::move(boot);
    return options;
}

// Logs `count` entries and applies keys k0.. with sessions and events up to
// `applied`.
void fill(Storage& storage, raft::LogIndex count, raft::LogIndex applied) {
    for (raft::LogIndex done = 0; done < count; done += 50) {  // 50 per record
        persist_ok(storage,
                   make_entries(storage.last_index() + 1, std::min<raft::LogIndex>(50, count - done),
                                term, 100),
                   raft::HardState{term, 1, applied});
    }
    auto txn = storage.begin_apply();
    ASSERT_TRUE(txn.ok());
    for (raft::LogIndex i = storage.applied_index() + 1; i <= applied; ++i) {
        const std::string key = "k" + std::to_string(i % 700);
        ASSERT_EQ(txn->put(key, "value-" + std::to_string(i)), Status::ok);
        txn->add_event(i, key, "event-" + std::to_string(i));
        if (i % 3 == 0) txn->set_session(i % 50 + 1, i, i, "reply");
    }
    txn->set_applied(applied, term);
    commit_ok(*txn);
}

// Segment files in dir, those being deleted (compaction unlinks them on a
// thread) counted too when `deleting`.
std::size_t segment_files(const std::string& dir, bool deleting = true) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const bool gone = name.size() > 8 && name.substr(name.size() - 8) == ".deleted";
        if (name.rfind("raft.log", 0) == 0 && (deleting || !gone)) ++n;
    }
    return n;
}

// Waits (with a deadline) until compaction's deleting thread is done.
void wait_deleted(const std::string& dir) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (segment_files(dir, true) != segment_files(dir, false) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(segment_files(dir, true), segment_files(dir, false)) << "segments not deleted";
}

SnapshotInfo take(Storage& storage) {
    const std::string part = storage.snapshot_part_path();
    auto info = write_snapshot(storage.databases(), 1, raft::voters_membership({1, 2, 3}), part, nullptr);
    EXPECT_TRUE(info.ok()) << info.error().detail;
    auto adopted = storage.adopt_snapshot(part, *info);
    EXPECT_TRUE(adopted.ok()) << adopted.error().detail;
    return *info;
}

TEST(SnapshotTest, FileHoldsTheStateAndInstallsElsewhere) {
    TempDir a, b;
    auto source = open_ok(a.db_path());
    fill(*source, 2000, 1500);
    const SnapshotInfo info = take(*source);
    EXPECT_EQ(info.meta.index, 1500u);
    EXPECT_EQ(info.meta.term, term);
    EXPECT_EQ(info.meta.membership, raft::voters_membership({1, 2, 3}));
    EXPECT_EQ(info.keys, source->key_count());
    EXPECT_EQ(info.state_hash, source->state_hash());
    auto header = read_snapshot_header(*source->snapshot_path());
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(header->meta, info.meta);
    EXPECT_EQ(source->snapshot(), info.meta);

    auto target = open_ok(b.db_path());
    persist_ok(*target, make_entries(1, 10, 1));  // a short, older log: replaced
    auto installed = target->install_snapshot(*source->snapshot_path());
    ASSERT_TRUE(installed.ok()) << installed.error().detail;
    const auto check = [&](Storage& s) {
        EXPECT_EQ(s.applied_index(), 1500u);
        EXPECT_EQ(s.first_index(), 1501u);
        EXPECT_EQ(s.term_at(1500), term);
        EXPECT_EQ(s.term_at(1499), std::nullopt);
        EXPECT_EQ(s.snapshot(), info.meta);
        EXPECT_EQ(s.state_hash(), source->state_hash());
        EXPECT_EQ(s.state_hash_by_scan(), source->state_hash());
        EXPECT_EQ(s.key_count(), source->key_count());
        EXPECT_EQ(s.get("k7"), source->get("k7"));
        EXPECT_EQ(s.session(7), source->session(7));
        EXPECT_EQ(s.events(1400, "", 10, SIZE_MAX, SIZE_MAX).events.size(), 10u);
        EXPECT_GE(s.hard_state().commit_index, 1500u);
    };
    check(*target);
    EXPECT_EQ(target->last_index(), 1500u);
    persist_ok(*target, make_entries(1501, 5, term + 1));
    target.reset();
    auto reopened = open_ok(b.db_path());
    check(*reopened);
    EXPECT_EQ(reopened->last_index(), 1505u);
}

// Rewrites a state as state format 5 had it (before key metadata): bare kv
// values, event keys of the index alone, the hash over bare values.
void downgrade_to_format_5(const Storage& storage) {
    Databases& dbs = const_cast<Databases&>(storage.databases());
    auto written = dbs.write("downgrade", [&dbs](MDB_txn* txn) {
        std::vector<std::pair<std::string, std::string>> kvs, events;
        for (MDB_dbi dbi : {dbs.kv.dbi(), dbs.events.dbi()}) {
            Cursor cursor(txn, dbi);
            MDB_val k{}, v{};
            for (int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT)) {
                (dbi == dbs.kv.dbi() ? kvs : events).emplace_back(to_view(k), to_view(v));
            }
        }
        std::uint64_t hash = 0;
        for (auto& [key, value] : kvs) {
            const std::string bare(codec::decode_kv(value).value);
            hash += KvDb::pair_hash(key, bare);
            MDB_val k = to_val(key), v = to_val(bare);
            if (int rc = mdb_put(txn, dbs.kv.dbi(), &k, &v, 0); rc != 0) return rc;
        }
        if (int rc = mdb_drop(txn, dbs.events.dbi(), 0); rc != 0) return rc;
        for (auto& [key, value] : events) {
            const std::string old_key = key.substr(0, codec::u64_bytes);
            MDB_val k = to_val(old_key), v = to_val(value);
            if (int rc = mdb_put(txn, dbs.events.dbi(), &k, &v, 0); rc != 0) return rc;
        }
        const int rc = dbs.state_meta.set_kv_hash(txn, hash);
        return rc != 0 ? rc : dbs.state_meta.set_format(txn, 5);
    });
    ASSERT_TRUE(written.ok()) << written.error().detail;
}

// A snapshot written before key metadata existed (state format 5) loads:
// an upgraded node whose log was compacted can start from it.
TEST(SnapshotTest, FormatFiveSnapshotIsUpgradedAsItLoads) {
    TempDir a, b;
    auto source = open_ok(a.db_path());
    fill(*source, 600, 600);
    downgrade_to_format_5(*source);
    const SnapshotInfo info = take(*source);
    auto target = open_ok(b.db_path());
    auto installed = target->install_snapshot(*source->snapshot_path());
    ASSERT_TRUE(installed.ok()) << installed.error().detail;
    EXPECT_EQ(target->key_count(), info.keys);
    EXPECT_EQ(target->state_hash(), target->state_hash_by_scan());
    const std::optional<StoredValue> entry = target->get_entry("k7");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value, "value-7");
    EXPECT_EQ(entry->meta, (KeyMeta{600, 600, 1, 0}));
    EXPECT_NE(target->state_hash(), 0u);
    EXPECT_EQ(target->events(590, "", 100, SIZE_MAX, SIZE_MAX).events.size(), 11u);
}

// The install in two steps: staged on another thread while the storage
// goes on serving its old state, then swapped in. Dropped unused or cut by
// a crash, a staged state leaves nothing behind.
TEST(SnapshotTest, StagedInstallSwapsTheStateInAndSurvivesReopen) {
    TempDir a, b;
    auto source = open_ok(a.db_path());
    fill(*source, 2000, 1500);
    take(*source);
    auto target = open_ok(b.db_path());
    fill(*target, 100, 80);
    const std::uint64_t old_hash = target->state_hash();
    const std::string incoming = b.path() + "/incoming.snap";
    const auto stage = [&] {
        std::filesystem::copy_file(*source->snapshot_path(), incoming,
                                   std::filesystem::copy_options::overwrite_existing);
        std::optional<Result<std::unique_ptr<StagedInstall>>> staged;
        std::thread([&] { staged = target->stage_install(incoming); }).join();
        EXPECT_TRUE(staged->ok()) << staged->error().detail;
        return std::move(**staged);
    };
    {
        auto unused = stage();
        EXPECT_TRUE(std::filesystem::exists(target->staging_dir()));
        EXPECT_EQ(target->state_hash(), old_hash);  // untouched meanwhile
        EXPECT_EQ(target->applied_index(), 80u);
    }
    EXPECT_FALSE(std::filesystem::exists(target->staging_dir()));
    {
        auto cut = stage();
        target.reset();  // a crash before the swap: the old state, no staging
        target = open_ok(b.db_path());
        EXPECT_FALSE(std::filesystem::exists(target->staging_dir()));
        EXPECT_EQ(target->state_hash(), old_hash);
    }
    auto staged = stage();
    auto installed = target->install_staged(*staged);
    ASSERT_TRUE(installed.ok()) << installed.error().detail;
    staged.reset();
    for (int reopen = 0; reopen < 2; ++reopen) {
        EXPECT_EQ(target->applied_index(), 1500u);
        EXPECT_EQ(target->first_index(), 1501u);
        EXPECT_EQ(target->snapshot().index, 1500u);
        EXPECT_EQ(target->state_hash(), source->state_hash());
        EXPECT_EQ(target->state_hash_by_scan(), source->state_hash());
        EXPECT_EQ(target->get("k7"), source->get("k7"));
        target.reset();
        target = open_ok(b.db_path());
    }
}

// Loading the state fails half way (a full disk) after the snapshot was
// adopted and the log reset. The node's retry finds it installed and only
// reloads the state; a crash instead restarts from the snapshot.
TEST(SnapshotTest, InstallThatFailsWhileLoadingIsCompletedLater) {
    TempDir a, b, c;
    auto source = open_ok(a.db_path());
    fill(*source, 2000, 1500);
    const SnapshotInfo info = take(*source);
    for (bool crash : {false, true}) {
        SCOPED_TRACE(crash ? "crash, then reopen" : "retry in place");
        TempDir& dir = crash ? c : b;
        auto target = open_ok(dir.db_path());
        fill(*target, 100, 80);  // a state of its own, to be replaced
        const std::string incoming = dir.path() + "/incoming.snap";  // install moves it
        std::filesystem::copy_file(*source->snapshot_path(), incoming);
        target->set_fail_next_commits(1);
        auto installed = target->install_snapshot(incoming);
        ASSERT_FALSE(installed.ok());
        EXPECT_EQ(installed.error().status, Status::io_error);
        // What Node::install_snapshot looks at on the retry:
        EXPECT_EQ(target->snapshot(), info.meta);
        EXPECT_EQ(target->first_index(), info.meta.index + 1);
        EXPECT_NE(target->applied_index(), info.meta.index);
        if (crash) {
            target.reset();
            target = open_ok(dir.db_path());
        } else {
            auto reloaded = target->reload_from_snapshot();
            ASSERT_TRUE(reloaded.ok()) << reloaded.error().detail;
        }
        EXPECT_EQ(target->applied_index(), 1500u);
        EXPECT_EQ(target->state_hash(), source->state_hash());
        EXPECT_EQ(target->state_hash_by_scan(), source->state_hash());
        EXPECT_EQ(target->key_count(), source->key_count());
    }
}

TEST(SnapshotTest, DamagedFileIsRefusedAndChangesNothing) {
    TempDir a, b;
    auto source = open_ok(a.db_path());
    fill(*source, 500, 500);
    take(*source);
    const std::string copy = a.path() + "/copy.snap";
    std::filesystem::copy_file(*source->snapshot_path(), copy);
    const auto size = std::filesystem::file_size(copy);
    int fd = ::open(copy.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char byte = 0;
    ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(size / 2)), 1);
    byte = static_cast<char>(byte ^ 0x40);
    ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(size / 2)), 1);
    ::close(fd);

    auto target = open_ok(b.db_path());
    fill(*target, 20, 20);
    const std::uint64_t hash = target->state_hash();
    auto installed = target->install_snapshot(copy);
    ASSERT_FALSE(installed.ok());
    EXPECT_EQ(installed.error().status, Status::corrupt) << installed.error().detail;
    EXPECT_NE(installed.error().detail.find("checksum"), std::string::npos)
        << installed.error().detail;
    EXPECT_EQ(target->applied_index(), 20u);
    EXPECT_EQ(target->state_hash(), hash);
    EXPECT_EQ(target->first_index(), 1u);
    EXPECT_EQ(target->snapshot().index, 0u);

    // A file cut short is refused too.
    std::filesystem::resize_file(copy, size - 10);
    EXPECT_EQ(read_snapshot(copy, {}).error().status, Status::corrupt);
}

TEST(SnapshotTest, CompactionDeletesSegmentsAndSurvivesReopen) {
    TempDir dir;
    auto storage = open_ok(dir.db_path(), small_segments());
    fill(*storage, 3000, 2500);
    const std::size_t before = segment_files(dir.db_path());
    EXPECT_GT(before, 20u);
    take(*storage);
    storage->compact(2400);
    EXPECT_EQ(storage->first_index(), 2401u);
    EXPECT_EQ(storage->term_at(2400), term);
    EXPECT_EQ(storage->term_at(2399), std::nullopt);
    // Out of the log at once; the files go on a thread of their own.
    EXPECT_LT(segment_files(dir.db_path(), false), before / 4) << before << " segments before";
    wait_deleted(dir.db_path());
    EXPECT_LT(segment_files(dir.db_path()), before / 4);
    const auto tail = storage->entries(2401, 3001, SIZE_MAX);
    storage.reset();
    auto reopened = open_ok(dir.db_path(), small_segments());
    // Whole segments go, so a reopened log may start a little earlier.
    EXPECT_LE(reopened->first_index(), 2401u);
    EXPECT_GT(reopened->first_index(), 2000u);
    EXPECT_EQ(reopened->last_index(), 3000u);
    EXPECT_EQ(reopened->entries(2401, 3001, SIZE_MAX), tail);
    EXPECT_EQ(reopened->applied_index(), 2500u);
    persist_ok(*reopened, make_entries(3001, 3, term));
    EXPECT_EQ(reopened->last_index(), 3003u);
}

TEST(SnapshotTest, LostStateAfterCompactionComesBackFromTheSnapshot) {
    TempDir dir;
    std::uint64_t snapshot_hash = 0;
    auto storage = open_ok(dir.db_path(), small_segments("boot-1"));
    fill(*storage, 3000, 2000);
    snapshot_hash = take(*storage).state_hash;
    storage->compact(1900);
    fill(*storage, 0, 2600);  // applied on past the snapshot, then an OS crash
    EXPECT_NE(storage->state_hash(), snapshot_hash);
    // What the crash leaves: the files as they are while in use (boot-1's).
    wait_deleted(dir.db_path());
    const std::string crashed = dir.path() + "/crashed";
    std::filesystem::copy(dir.db_path(), crashed, std::filesystem::copy_options::recursive);
    storage.reset();

    auto after = open_ok(crashed, small_segments("boot-2"));
    ASSERT_NE(after, nullptr);
    EXPECT_TRUE(after->state_discarded());
    EXPECT_EQ(after->applied_index(), 2000u) << "back to the snapshot, to re-apply the log after";
    EXPECT_EQ(after->state_hash(), snapshot_hash);
    EXPECT_EQ(after->state_hash_by_scan(), snapshot_hash);
    EXPECT_EQ(after->last_index(), 3000u);
    EXPECT_LE(after->first_index(), 1901u);
}

TEST(SnapshotTest, LogBehindStateWithoutSnapshotIsCorrupt) {
    TempDir dir;
    {
        auto storage = open_ok(dir.db_path(), small_segments("boot-1"));
        fill(*storage, 3000, 2000);
        take(*storage);
        storage->compact(1900);
    }
    std::filesystem::remove_all(dir.db_path() + "/snapshots");
    const std::string crashed = dir.db_path();
    {
        std::ofstream marker(crashed + "/state-in-use");
        marker << "boot-1";
    }
    auto reopened = Storage::open(crashed, small_segments("boot-2"));
    ASSERT_FALSE(reopened.ok());
    EXPECT_EQ(reopened.error().status, Status::corrupt);
    EXPECT_NE(reopened.error().detail.find("no snapshot"), std::string::npos)
        << reopened.error().detail;
}

TEST(SnapshotTest, FullDiskDuringASnapshotLeavesNothingAndChangesNothing) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    fill(*storage, 2000, 2000);
    const std::uint64_t hash = storage->state_hash();
    {
        testing::FileSizeLimit limit(64 << 10);  // the snapshot needs more: EFBIG, as ENOSPC
        auto info = write_snapshot(storage->databases(), 1, raft::voters_membership({1}), storage->snapshot_part_path(),
                                   nullptr);
        ASSERT_FALSE(info.ok());
        EXPECT_EQ(info.error().status, Status::storage_full) << info.error().detail;
    }
    EXPECT_FALSE(std::filesystem::exists(storage->snapshot_part_path() + ".part"));
    EXPECT_FALSE(std::filesystem::exists(storage->snapshot_part_path()));
    EXPECT_EQ(storage->snapshot().index, 0u);
    EXPECT_EQ(storage->state_hash(), hash);
    fill(*storage, 10, 2010);  // writes go on
    const SnapshotInfo info = take(*storage);  // and with room again, it works
    EXPECT_EQ(info.meta.index, 2010u);
}

// --snapshot-rate-mb: the file takes at least its size over the rate.
TEST(SnapshotTest, ARateLimitsHowFastTheFileIsWritten) {
    TempDir a;
    auto storage = open_ok(a.db_path());
    fill(*storage, 3000, 3000);
    const std::string part = storage->snapshot_part_path();
    const auto start = std::chrono::steady_clock::now();
    auto info = write_snapshot(storage->databases(), 1, raft::voters_membership({1}), part, nullptr, 1000000);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(info.ok()) << info.error().detail;
    EXPECT_GT(info->bytes, 100000u);  // enough to measure: over 0.1 s at 1 MB/s
    EXPECT_GE(seconds, static_cast<double>(info->bytes) / 1000000 * 0.99);
}

TEST(SnapshotTest, CancelledSnapshotLeavesNothing) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    fill(*storage, 3000, 3000);
    std::atomic<bool> cancel{true};
    auto info =
        write_snapshot(storage->databases(), 1, raft::voters_membership({1}), storage->snapshot_part_path(), &cancel);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().status, Status::dropped);
    EXPECT_FALSE(std::filesystem::exists(storage->snapshot_part_path() + ".part"));
}

// The taker's thread gives the file its final name and deletes what
// adopting it would (all but the loop's newest and it), so the loop's
// adopt_snapshot waits for no directory sync or unlink: those took 100-360
// ms under load at 1M keys.
SnapshotInfo take_on_thread(Storage& storage) {
    SnapshotTaker taker;
    taker.start(storage, raft::voters_membership({1}));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<Result<SnapshotInfo>> result;
    while (!(result = taker.poll()) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_TRUE(result.has_value()) << "the snapshot did not finish in 20 s";
    if (!result) return {};
    EXPECT_TRUE(result->ok()) << result->error().detail;
    return result->ok() ? **result : SnapshotInfo{};
}

TEST(SnapshotTest, TakerNamesTheFileAndDeletesTheOldOnesOffTheLoop) {
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    const std::string snapshots = storage->snapshots_dir();
    std::vector<std::string> adopted;
    for (raft::LogIndex applied : {1000, 1100, 1200}) {
        fill(*storage, 100, applied);
        const SnapshotInfo info = take_on_thread(*storage);
        ASSERT_EQ(info.meta.index, applied);
        const std::string file = snapshots + "/" + snapshot_file_name(info.meta.index, term);
        EXPECT_TRUE(std::filesystem::exists(file)) << file;
        EXPECT_FALSE(std::filesystem::exists(storage->snapshot_part_path()));
        // Before adopting it: the new file and the loop's newest, nothing else.
        std::vector<std::string> want{snapshot_file_name(info.meta.index, term)};
        if (!adopted.empty()) want.push_back(adopted.back());
        EXPECT_EQ(Storage::snapshot_names_in(snapshots), want);
        auto ok = storage->adopt_snapshot(file, info);
        ASSERT_TRUE(ok.ok()) << ok.error().detail;
        EXPECT_EQ(storage->snapshot_path(), file);
        adopted.push_back(snapshot_file_name(info.meta.index, term));
    }
    const SnapshotInfo newest = storage->snapshot_info();
    ASSERT_TRUE(storage->snapshot_path().has_value());
    auto read = read_snapshot(*storage->snapshot_path(), {});
    ASSERT_TRUE(read.ok()) << read.error().detail;
    EXPECT_EQ(read->meta.index, 1200u);
    EXPECT_EQ(read->state_hash, newest.state_hash);
}

}  // namespace
}  // namespace cabildo::storage
