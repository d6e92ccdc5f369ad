// Storage: see storage.h.
#include "storage/storage.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "node/raft/assert.h"
#include "storage/codec.h"
#include "storage/databases.h"
#include "storage/dir_lock.h"
#include "storage/posix_file.h"

namespace cabildo::storage {

Result<std::unique_ptr<Storage>> Storage::open(const std::string& path, const Options& options) {
    if (options.map_bytes_initial == 0 || options.map_bytes_initial > options.map_bytes_max) {
        return Error{Status::bad_request, "map_bytes_initial must be in [1, map_bytes_max]"};
    }
    if (options.sessions_max == 0)
        return Error{Status::bad_request, "sessions_max must be > 0"};
    if (options.events_max == 0 || options.events_bytes_max == 0)
        return Error{Status::bad_request, "events_max and events_bytes_max must be > 0"};
    // The lock first: a second process on this directory touches nothing.
    auto lock = DirLock::acquire(path);
    if (!lock)
        return lock.error();
    // What a crash in the middle of install_staged left (staging) or did
    // not get to remove (state.old).
    for (const char* leftover : {"/staging", "/state.old"}) {
        std::error_code ec;
        std::filesystem::remove_all(path + leftover, ec);
    }
    // The log before the state: a damaged log stops the node before the
    // state guard may discard anything.
    auto log = LogFile::open(path, options.identity, options.recovery);
    if (!log)
        return log.error();
    (*log)->set_segment_bytes_max(options.log_segment_bytes);
    // A repair's cut may take the log below the applied state, whose entries
    // are committed but now missing here: then the state is rebuilt from
    // what is left and what the leader sends.
    const bool cut = options.recovery == Recovery::repair && (*log)->report().damage_offset;
    auto dbs = Databases::open(path, options,
                               cut ? std::optional((*log)->last_index()) : std::nullopt);
    if (!dbs)
        return dbs.error();
    auto storage = std::unique_ptr<Storage>(
        new Storage(path, options, std::move(*lock), std::move(*dbs), std::move(*log)));
    if (auto found = storage->find_snapshot(); !found) return found.error();
    // The state is behind the start of the log (an OS crash lost it, or an
    // install stopped half way): it comes back from the newest snapshot,
    // then the log after it is applied again.
    // A discarded state also comes back from a newer snapshot: cheaper than
    // re-applying the log up to it.
    if (storage->applied_index_ + 1 < storage->first_index() ||
        (storage->state_discarded() && storage->applied_index_ < storage->snapshot().index)) {
        auto loaded = storage->load_state_from_snapshot(
            storage->state_discarded()
                ? storage->discard_reason()
                : "the applied state (index " + std::to_string(storage->applied_index_) +
                      ") is behind the log, which starts at " +
                      std::to_string(storage->first_index()));
        if (!loaded) return loaded.error();
        storage->restored_from_ = *storage->snapshot_path();
    }
    if (storage->applied_index_ > storage->last_index()) {
        return Error{Status::corrupt,
                     path + "/raft.log ends at index " + std::to_string(storage->last_index()) +
                         " but the applied state in " + path + "/state is at index " +
                         std::to_string(storage->applied_index_) +
                         ": the log lost synced entries. Nothing was changed. Restore this data "
                         "directory from a backup, or, with a healthy majority, rejoin the node "
                         "empty (README, 'Repairing a node')"};
    }
    return storage;
}

Storage::Storage(std::string path, const Options& options, std::unique_ptr<DirLock> lock,
                 std::unique_ptr<Databases> dbs, std::unique_ptr<LogFile> log)
    : lock_(std::move(lock)),
      dbs_(std::move(dbs)),
      log_(std::move(log)),
      path_(std::move(path)),
      options_(options) {
    options_.identity = log_->identity();  // a cluster id of 0 took the log's
    hard_state_ = log_->hard_state();
    read_applied();
}

void Storage::read_applied() {
    ReadTxn txn(*dbs_->state_env);
    applied_index_ = dbs_->state_meta.applied(txn.raw());
    // The stored commit index may lag (persist() skips commit-only changes),
    // but whatever was applied, or compacted, was committed.
    hard_state_.commit_index =
        std::max({hard_state_.commit_index, applied_index_, log_->first_index() - 1});
}

// The newest snapshot file whose header reads; a half-written one (its
// temporary name) is removed.
Result<bool> Storage::find_snapshot() {
    std::error_code ec;
    std::filesystem::create_directories(snapshots_dir(), ec);
    if (ec) return Error{Status::io_error, "create " + snapshots_dir() + ": " + ec.message()};
    for (const auto& e : std::filesystem::directory_iterator(snapshots_dir(), ec)) {
        if (!is_snapshot_name(e.path().filename().string())) {
            std::filesystem::remove(e.path(), ec);  // a .part or other leftover
        }
    }
    for (const std::string& name : snapshot_names()) {
        auto info = read_snapshot_header(snapshots_dir() + "/" + name);
        if (info) {
            snapshot_ = *info;
            return true;
        }
    }
    return true;
}

// "<index 20 digits>-<term 20 digits>.snap" (snapshot_file_name).
bool Storage::is_snapshot_name(const std::string& name) {
    return name.size() == snapshot_file_name(0, 0).size() && name.ends_with(".snap");
}

std::vector<std::string> Storage::snapshot_names_in(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (is_snapshot_name(name)) names.push_back(name);
    }
    std::sort(names.rbegin(), names.rend());
    return names;
}

// Empties the state and loads `file` into it; `why` goes to the guard.
Result<SnapshotInfo> Storage::replace_state(const std::string& file, const std::string& why) {
    StateGuard guard = *dbs_->guard;
    const int commits_to_fail = dbs_->commits_to_fail;  // tests' injected failures go on
    dbs_.reset();  // closes the environment
    auto discarded = guard.discard(why);
    if (!discarded) return discarded.error();
    auto dbs = Databases::open_env(guard, options_);
    if (!dbs) return dbs.error();
    dbs_ = std::move(*dbs);
    dbs_->commits_to_fail = commits_to_fail;
    return load_snapshot(file, *dbs_);
}

std::optional<std::string> Storage::snapshot_path() const {
    if (snapshot_.meta.index == 0) return std::nullopt;
    return snapshots_dir() + "/" + snapshot_file_name(snapshot_.meta.index, snapshot_.meta.term);
}

Result<bool> Storage::restore_from(const std::string& backup,
                                   const raft::Membership& members) {
    if (last_index() != 0 || applied_index_ != 0 || hard_state_.term != 0) {
        return Error{Status::bad_request, "--restore-from needs an empty data directory; " +
                                              path_ + " already holds a log or a state"};
    }
    auto info = replace_state(backup, "restoring " + backup);  // checks it as it loads
    if (!info) return info.error();
    {  // the backup's membership is another cluster's: this one's replaces it
        auto txn = begin_apply();
        if (!txn) return txn.error();
        txn->set_membership(members);
        auto committed = txn->commit();
        if (!committed) return committed.error();
    }
    auto written = write_snapshot(*dbs_, options_.identity.cluster_id, members,
                                  snapshot_part_path(), nullptr);
    if (!written) return written.error();
    auto adopted = adopt_snapshot(snapshot_part_path(), *written);
    if (!adopted) return adopted.error();
    const raft::HardState hs{info->meta.term, raft::node_none, info->meta.index};
    auto reset = log_->reset(info->meta.index, info->meta.term, hs);
    if (!reset) return reset.error();
    hard_state_ = hs;
    read_applied();
    return true;
}

std::optional<std::string> Storage::snapshot_file(raft::LogIndex index) const {
    const std::string name = snapshot_file_name(index, 0);
    const std::string prefix = name.substr(0, name.find('-') + 1);  // "<index>-"
    for (const std::string& kept : snapshot_names()) {
        if (kept.starts_with(prefix)) return snapshots_dir() + "/" + kept;
    }
    return std::nullopt;
}

Result<bool> Storage::load_state_from_snapshot(const std::string& reason) {
    const auto file = snapshot_path();
    if (!file || snapshot_.meta.index + 1 < first_index()) {
        return Error{Status::corrupt,
                     reason + ", and no snapshot in " + snapshots_dir() +
                         " covers the entries between. Nothing was changed. Restore this data "
                         "directory from a backup, or rejoin the node empty (README, 'Repairing a "
                         "node')"};
    }
    auto loaded = replace_state(*file, reason + ": loading snapshot " + *file);
    if (!loaded) return loaded.error();
    read_applied();
    return true;
}

Result<bool> Storage::adopt_snapshot(const std::string& file, const SnapshotInfo& info,
                                     std::size_t keep) {
    const std::string target =
        snapshots_dir() + "/" + snapshot_file_name(info.meta.index, info.meta.term);
    // A file already at its final name was put there, synced, by its writer
    // (SnapshotTaker); syncing the directory again would make the loop wait
    // for the file system's journal.
    if (file != target) {
        if (::rename(file.c_str(), target.c_str()) != 0) {
            return errno_error("rename " + file + " to " + target, errno);
        }
        auto synced = sync_directory(snapshots_dir());
        if (!synced) return synced.error();
    }
    if (info.meta.index >= snapshot_.meta.index) snapshot_ = info;
    remove_old_snapshots(snapshots_dir(), keep);
    return true;
}

void Storage::remove_old_snapshots(const std::string& dir, std::size_t keep) {
    const std::vector<std::string> names = snapshot_names_in(dir);
    std::error_code ec;
    for (std::size_t i = std::max<std::size_t>(keep, 1); i < names.size(); ++i) {
        std::filesystem::remove(dir + "/" + names[i], ec);
    }
}

void Storage::compact(raft::LogIndex through) {
    CABILDO_ASSERT(through <= snapshot_.meta.index, "compacting past the newest snapshot");
    CABILDO_ASSERT(through <= applied_index_, "compacting entries not applied");
    log_->compact(through, hard_state_.commit_index);
}

Result<bool> Storage::install_snapshot(const std::string& file) {
    auto info = read_snapshot(file, {});  // every checksum, before anything changes
    if (!info) return info.error();
    if (info->cluster_id != options_.identity.cluster_id) {
        return Error{Status::bad_request, "snapshot " + file + " is of cluster " +
                                              std::to_string(info->cluster_id) + ", not " +
                                              std::to_string(options_.identity.cluster_id)};
    }
    auto adopted = adopt_snapshot(file, *info);
    if (!adopted) return adopted.error();
    // The log first: a crash after it restarts from this snapshot (the state
    // is then behind the log); the other order would leave a state ahead of
    // the log.
    raft::HardState hs = hard_state_;
    hs.commit_index = std::max(hs.commit_index, info->meta.index);
    auto reset = log_->reset(info->meta.index, info->meta.term, hs);
    if (!reset) return reset.error();
    hard_state_ = hs;
    return load_state_from_snapshot("installing snapshot " + std::to_string(info->meta.index));
}

// Without its state environment this storage cannot go on. Nothing is lost
// by stopping: the log and the adopted snapshot are intact, and the next
// start loads the state from the snapshot (the state is behind the log).
void Storage::reopen_state_or_stop(const StateGuard& guard, const std::string& after) {
    auto dbs = Databases::open_env(guard, options_);
    if (!dbs) {
        std::fprintf(stderr,
                     "cabildo: cannot reopen the state in %s after %s: %s. Stopping; nothing is "
                     "lost: the next start loads the state from the newest snapshot in %s\n",
                     guard.state_dir().c_str(), after.c_str(), dbs.error().detail.c_str(),
                     snapshots_dir().c_str());
        std::abort();
    }
    dbs_ = std::move(*dbs);
}

StagedInstall::~StagedInstall() {
    dbs.reset();
    if (!installed && !dir.empty()) {
        // Best effort (open() removes it too). Not on a thread: the next
        // staging reuses the directory.
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
}

Result<std::unique_ptr<StagedInstall>> Storage::stage_install(const std::string& file) const {
    auto header = read_snapshot_header(file);
    if (!header) return header.error();
    if (header->cluster_id != options_.identity.cluster_id) {
        return Error{Status::bad_request, "snapshot " + file + " is of cluster " +
                                              std::to_string(header->cluster_id) + ", not " +
                                              std::to_string(options_.identity.cluster_id)};
    }
    auto staged = std::make_unique<StagedInstall>();
    staged->file = file;
    staged->dir = staging_dir();
    std::error_code ec;
    std::filesystem::create_directories(staged->dir, ec);
    if (ec) return Error{Status::io_error, "create " + staged->dir + ": " + ec.message()};
    StateGuard guard(staged->dir, options_.boot_id);
    auto emptied = guard.discard("staging snapshot " + file);
    if (!emptied) return emptied.error();
    auto dbs = Databases::open_env(guard, options_);
    if (!dbs) return dbs.error();
    staged->dbs = std::move(*dbs);
    auto info = load_snapshot(file, *staged->dbs);
    if (!info) return info.error();
    staged->info = *info;
    return staged;
}

Result<bool> Storage::install_staged(StagedInstall& staged) {
    const raft::SnapshotMeta& meta = staged.info.meta;
    auto adopted = adopt_snapshot(staged.file, staged.info);
    if (!adopted) return adopted.error();
    raft::HardState hs = hard_state_;  // the log first, as in install_snapshot
    hs.commit_index = std::max(hs.commit_index, meta.index);
    auto reset = log_->reset(meta.index, meta.term, hs);
    if (!reset) return reset.error();
    hard_state_ = hs;
    StateGuard guard = *dbs_->guard;
    const std::string staged_state = StateGuard(staged.dir, options_.boot_id).state_dir();
    const std::string old = path_ + "/state.old";
    staged.dbs.reset();
    dbs_.reset();  // closes the environment
    std::error_code ec;
    std::filesystem::remove_all(old, ec);
    if (::rename(guard.state_dir().c_str(), old.c_str()) != 0) {
        const int err = errno;
        reopen_state_or_stop(guard, "a failed install");
        return errno_error("move the state aside to " + old, err);
    }
    if (::rename(staged_state.c_str(), guard.state_dir().c_str()) != 0) {
        const int err = errno;
        (void)::rename(old.c_str(), guard.state_dir().c_str());
        reopen_state_or_stop(guard, "a failed install");
        return errno_error("swap in the staged state " + staged_state, err);
    }
    staged.installed = true;
    reopen_state_or_stop(guard, "installing snapshot " + std::to_string(meta.index));
    read_applied();
    std::error_code ignored;
    std::filesystem::remove_all(staged.dir, ignored);  // empty now but its marker
    std::thread([old] {  // the replaced state: a big file's unlink may take a while
        std::error_code ignored_too;
        std::filesystem::remove_all(old, ignored_too);
    }).detach();
    return true;
}

// A failed sync keeps the marker: the next open then trusts the state only
// within this boot, which is exactly what an unsynced state deserves.
Storage::~Storage() {
    if (dbs_ && dbs_->state_env->sync() == 0)
        dbs_->guard->mark_clean();
}

bool Storage::state_discarded() const {
    return dbs_->guard->discarded();
}

raft::LogIndex Storage::last_index() const {
    return log_->last_index();
}

std::optional<raft::Term> Storage::term_at(raft::LogIndex index) const {
    if (index == 0)
        return 0;
    if (index > last_index() || index + 1 < first_index())
        return std::nullopt;
    return log_->term_at(index);
}

std::vector<raft::Entry> Storage::entries(raft::LogIndex lo, raft::LogIndex hi,
                                          std::size_t bytes_max) const {
    CABILDO_ASSERT(first_index() <= lo, "entries() below first_index");
    CABILDO_ASSERT(lo <= hi, "entries() with lo > hi");
    CABILDO_ASSERT(hi <= last_index() + 1, "entries() past last_index");
    if (lo == hi)
        return {};
    return log_->entries(lo, hi, bytes_max);
}

Result<bool> Storage::persist(const std::optional<raft::HardState>& hard_state,
                              const std::vector<raft::Entry>& entries) {
    check_persist(hard_state, entries);
    if (entries.empty() && (!hard_state || (hard_state->term == hard_state_.term &&
                                            hard_state->voted_for == hard_state_.voted_for))) {
        // Only the commit index moved: Raft keeps it as volatile state, so
        // it is not worth an fsync. It is stored with the next write.
        if (hard_state)
            hard_state_.commit_index = hard_state->commit_index;
        return true;
    }
    if (dbs_->take_injected_failure())
        return Error{Status::io_error, "persist: injected commit failure"};
    const raft::HardState next = hard_state ? *hard_state : hard_state_;
    auto written = log_->append(next, entries, hard_state_.commit_index);
    if (!written)
        return written.error();
    for (const raft::Entry& e : entries) log_bytes_written_ += e.data.size() + 16;
    hard_state_ = next;
    return true;
}

void Storage::check_persist(const std::optional<raft::HardState>& hard_state,
                            const std::vector<raft::Entry>& entries) const {
    if (hard_state) {
        CABILDO_ASSERT(hard_state->term >= hard_state_.term, "hard state term going backwards");
        CABILDO_ASSERT(hard_state->commit_index >= hard_state_.commit_index,
                       "commit_index going backwards");
    }
    if (entries.empty())
        return;
    CABILDO_ASSERT(entries.front().index >= first_index(), "persist below first_index");
    CABILDO_ASSERT(entries.front().index <= last_index() + 1, "persist leaves a hole in the log");
    for (std::size_t i = 1; i < entries.size(); ++i) {
        CABILDO_ASSERT(entries[i].index == entries[i - 1].index + 1,
                       "persist with non-consecutive entries");
    }
}

Result<ApplyTxn> Storage::begin_apply() {
    auto txn = WriteTxn::begin(*dbs_->state_env);
    if (!txn)
        return txn.error();
    return ApplyTxn(*this, *dbs_, std::move(*txn));
}

std::optional<std::string> Storage::get(std::string_view key) const {
    if (!dbs_->kv.key_fits(key))
        return std::nullopt;
    ReadTxn txn(*dbs_->state_env);
    std::optional<std::string> stored = dbs_->kv.get(txn.raw(), key);
    if (!stored) return std::nullopt;
    return std::string(codec::decode_kv(*stored).value);
}

std::optional<StoredValue> Storage::get_entry(std::string_view key) const {
    if (!dbs_->kv.key_fits(key))
        return std::nullopt;
    ReadTxn txn(*dbs_->state_env);
    std::optional<std::string> stored = dbs_->kv.get(txn.raw(), key);
    if (!stored) return std::nullopt;
    const codec::KvView view = codec::decode_kv(*stored);
    return StoredValue{std::string(view.value), view.meta};
}

std::optional<LeaseRecord> Storage::lease(std::uint64_t id) const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->leases.get(txn.raw(), id);
}

std::vector<std::string> Storage::lease_keys(std::uint64_t id, std::size_t limit) const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->leases.keys(txn.raw(), id, limit);
}

std::vector<std::pair<std::uint64_t, LeaseRecord>> Storage::leases(std::uint64_t from,
                                                                   std::size_t limit,
                                                                   bool* more) const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->leases.list(txn.raw(), from, limit, more);
}

Storage::RangeResult Storage::range(std::string_view prefix, std::size_t limit,
                                    std::size_t bytes_max) const {
    ReadTxn txn(*dbs_->state_env);
    RangeResult result;
    result.applied_index = dbs_->state_meta.applied(txn.raw());
    dbs_->kv.range(txn.raw(), prefix, limit, bytes_max, &result);
    return result;
}

std::optional<SessionRecord> Storage::session(std::uint64_t session_id) const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->sessions.get(txn.raw(), session_id);
}

Storage::EventsResult Storage::events(raft::LogIndex from, std::string_view prefix,
                                      std::size_t limit, std::size_t bytes_max,
                                      std::size_t scan_max) const {
    ReadTxn txn(*dbs_->state_env);
    EventsResult result;
    result.applied_index = dbs_->state_meta.applied(txn.raw());
    result.compacted_through = dbs_->state_meta.events_compacted(txn.raw());
    result.scanned_through = from == 0 ? 0 : from - 1;
    dbs_->events.scan(txn.raw(), from, prefix, EventDb::Limits{limit, bytes_max, scan_max},
                      &result);
    // At the end of the history every index up to applied_index is covered:
    // a later event must have a higher index (ApplyTxn::add_event asserts).
    if (!result.more)
        result.scanned_through = std::max(result.scanned_through, result.applied_index);
    return result;
}

raft::LogIndex Storage::events_compacted_through() const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->state_meta.events_compacted(txn.raw());
}

std::uint64_t Storage::state_hash() const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->state_meta.kv_hash(txn.raw());
}

std::optional<raft::Membership> Storage::applied_membership() const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->state_meta.membership(txn.raw());
}

std::uint64_t Storage::state_hash_by_scan() const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->kv.hash_by_scan(txn.raw());
}

std::string Storage::discard_reason() const {
    return dbs_->guard->reason();
}

std::size_t Storage::key_count() const {
    ReadTxn txn(*dbs_->state_env);
    return dbs_->kv.count(txn.raw());
}

namespace {

std::uint64_t tree_bytes(MDB_txn* txn, MDB_dbi dbi) {
    MDB_stat stat{};
    const int rc = mdb_stat(txn, dbi, &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat failed on an open database");
    const std::uint64_t pages = std::uint64_t{stat.ms_branch_pages} + stat.ms_leaf_pages +
                                stat.ms_overflow_pages;
    return pages * stat.ms_psize;
}

}  // namespace

std::uint64_t Storage::state_bytes() const {
    ReadTxn txn(*dbs_->state_env);
    return tree_bytes(txn.raw(), dbs_->kv.dbi()) +
           tree_bytes(txn.raw(), dbs_->leases.leases_dbi()) +
           tree_bytes(txn.raw(), dbs_->leases.keys_dbi());
}

Status Storage::grow_map_if_half_full() {
    Env& env = *dbs_->state_env;
    if (env.used_bytes() * 2 < env.map_bytes()) return Status::ok;
    return env.grow();
}

std::size_t Storage::map_bytes() const {
    return dbs_->state_env->map_bytes();
}

std::size_t Storage::map_used_bytes() const {
    MDB_envinfo info{};
    MDB_stat stat{};
    mdb_env_info(dbs_->state_env->raw(), &info);
    mdb_env_stat(dbs_->state_env->raw(), &stat);
    return (info.me_last_pgno + 1) * std::size_t{stat.ms_psize};
}

std::size_t Storage::session_count() const {
    ReadTxn txn(*dbs_->state_env);
    MDB_stat stat{};
    const int rc = mdb_stat(txn.raw(), dbs_->sessions.sessions_dbi(), &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat(sessions) failed");
    return stat.ms_entries;
}

void Storage::set_fail_next_commits(int count) {
    CABILDO_ASSERT(count >= 0, "negative commit failure count");
    dbs_->commits_to_fail = count;
}

}  // namespace cabildo::storage
