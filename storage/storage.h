// Storage: a node's durable state: the Raft log and hard state (read by the
// core through raft::LogReader, written by persist()) in an append-only file
// synced on every write (LogFile); and the applied key-value state machine
// with its client sessions and its event history for watches (written
// through ApplyTxn) in an LMDB environment that is derived from the log and
// commits without fsync.
//
// This is the public face of storage/, the only code that includes <lmdb.h>;
// this header does not. It stores bytes: what a command means is node/'s job,
// and it is not a snapshot or compaction mechanism (yet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/log_reader.h"
#include "node/raft/result.h"
#include "node/raft/types.h"
#include "storage/apply_txn.h"
#include "storage/log_file.h"
#include "storage/records.h"
#include "storage/snapshot_file.h"

namespace cabildo::storage {

struct Databases;
class DirLock;
class StateGuard;

// A received snapshot loaded into an environment of its own, beside the
// state (Storage::stage_install), until Storage::install_staged swaps it in.
// Dropped unused, it removes what it wrote.
struct StagedInstall {
    std::string file;  // the snapshot file, adopted by install_staged
    SnapshotInfo info;
    std::string dir;   // <data-dir>/staging
    std::unique_ptr<Databases> dbs;
    bool installed = false;
    ~StagedInstall();
};

struct Options {
    std::size_t map_bytes_initial = 64 << 20;  // grows by doubling on MDB_MAP_FULL
    std::size_t map_bytes_max = 64ull << 30;
    std::size_t sessions_max = 100000;  // oldest (by last-used index) evicted first
    std::size_t events_max = 100000;    // oldest (lowest index) evicted first
    std::uint64_t events_bytes_max = std::uint64_t{1} << 30;  // ... and past this many bytes
    std::string boot_id;  // empty: this system's; tests set it to act out a reboot
    LogIdentity identity;  // whose log this is: checked against raft.log's header
    Recovery recovery = Recovery::normal;  // repair: cut the log at damage (--repair-log)
    std::uint64_t log_segment_bytes = 64 << 20;  // a new log segment past this (log_file.h)
};

// On-disk layout. `path` is a directory holding:
//
//   raft.log  the Raft log and hard state, one checksummed record per
//             persist(), synced (layout in log_file.h).
//   state/    an LMDB environment (data.mdb, lock.mdb), unsynced
//             (MDB_NOSYNC | MDB_WRITEMAP, see below and env.h). Every
//             integer is big-endian and unsigned, 64-bit ("u64") but for
//             the events' u16 key length, so LMDB's memcmp key order is
//             numeric order:
//     meta    "applied"                 -> [index u64]
//             "events_compacted"        -> [index u64], the highest evicted event
//             "kv_hash"                 -> [sum u64], the state hash (kv_db.h)
//             "events_bytes"            -> [u64], the bytes of the events kept
//             "format"                  -> [4 u64]; an older state (no
//                                          or another format) is discarded at
//                                          open and rebuilt from the log
//             Missing keys read as zero (a fresh node).
//     kv      [client key, 1..511 B]    -> [create_revision u64][mod_revision u64]
//                                          [version u64][lease u64][client value]
//     sessions [session id u64]         -> [seq u64][index u64][reply bytes]
//     session_age [index u64][session id u64] -> empty; one per session, for
//             eviction in (index, id) order past Options::sessions_max.
//     events  [index u64][position u32] -> [key_len u16][client key][event bytes]
//             One opaque event (node/'s bytes) per key an applied entry
//             changed, appended with MDB_APPEND; the lowest
//             indexes are evicted past Options::events_max events or
//             Options::events_bytes_max bytes (event_db.h).
//     leases  [lease id u64]            -> [ttl_ms u64][renewed u64][keys u64]
//     lease_keys [lease id u64]         -> [client key] (sorted duplicates)
//             The granted leases and their attached keys (lease_db.h).
//   state-in-use  the boot id of the system that has state/ open (StateGuard).
//
// Writes:
//   persist():          hard state + log suffix, one record, synced (one
//                       write, one fdatasync). Raft: BEFORE any message that
//                       depends on them is sent.
//   ApplyTxn::commit(): kv writes + sessions + events (and their eviction,
//                       "events_compacted") + "applied", together, so a
//                       crash never applies an entry twice or loses one, and
//                       the history never disagrees with the kv state. Not
//                       synced: every applied entry is committed, so it is
//                       already durable in the logs of a majority (and in
//                       this node's own log, which persist() wrote first), and
//                       its effect is a function of the log. A process crash
//                       loses nothing (the OS keeps the pages). After an OS
//                       crash with state/ open, StateGuard empties state/ and
//                       the node re-applies the log from index 1, getting the
//                       same state, sessions and events again. Applying is
//                       off the write path's fsync: only the log pays for it.
// LMDB is copy-on-write with two meta pages: a process crash leaves either
// the old or the new transaction, with no recovery step. MDB_MAP_FULL (from a
// put or the commit) aborts, doubles the map up to map_bytes_max and replays
// the transaction; a full disk gives storage_full and changes nothing, in
// the log file as in LMDB.
//
// Invariants: first_index() <= last_index() + 1; the cached term, vote and
// applied index equal what is stored; the
// cached commit index is >= the stored one (persist() stores a commit-only
// change with the next write; Raft keeps it as volatile state) and >=
// applied_index();
// entries at or below the stored commit_index are never removed or changed;
// at most events_max events are stored, every one above events_compacted.
// Not thread-safe: the node's loop thread owns it. The const reads each use
// one read transaction (a consistent snapshot), reused via reset/renew.
class Storage final : public raft::LogReader {
public:
    using SessionRecord = storage::SessionRecord;
    using RangeResult = storage::RangeResult;
    using EventsResult = storage::EventsResult;
    using ApplyTxn = storage::ApplyTxn;

    // Creates the directory if missing. Fails closed, changing nothing:
    // `locked` if another process uses the directory (DirLock); `corrupt` for
    // a damaged log (LogFile) or one that ends before the applied state;
    // bad_request for inconsistent options, another node's or cluster's log,
    // or a directory in the older one-environment layout.
    static Result<std::unique_ptr<Storage>> open(const std::string& path, const Options& options);
    // Syncs the state and removes the in-use marker (a clean close).
    ~Storage() override;
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    // raft::LogReader. first_index, last_index and the last term are cached.
    raft::LogIndex first_index() const override { return log_->first_index(); }
    raft::LogIndex last_index() const override;
    std::optional<raft::Term> term_at(raft::LogIndex index) const override;
    std::vector<raft::Entry> entries(raft::LogIndex lo, raft::LogIndex hi,
                                     std::size_t bytes_max) const override;
    raft::SnapshotMeta snapshot() const override { return snapshot_.meta; }

    // Snapshots (snapshot_file.h) live in <path>/snapshots; the newest one
    // is what a follower that needs compacted entries is sent, and what an
    // OS crash restarts from. Its file, if any.
    std::string snapshots_dir() const { return path_ + "/snapshots"; }
    std::string staging_dir() const { return path_ + "/staging"; }
    std::optional<std::string> snapshot_path() const;
    // The file of the kept snapshot at index, if there is one.
    std::optional<std::string> snapshot_file(raft::LogIndex index) const;
    const SnapshotInfo& snapshot_info() const { return snapshot_; }
    // Writes a snapshot of the applied state to a temporary name in
    // snapshots_dir() (safe on another thread: see write_snapshot), and
    // returns the path it must be adopted from.
    std::string snapshot_part_path() const { return snapshots_dir() + "/taking.snap"; }
    const Databases& databases() const { return *dbs_; }
    // The snapshot file open() loaded the applied state from, if it did.
    const std::string& restored_from() const { return restored_from_; }
    std::uint64_t cluster_id() const { return options_.identity.cluster_id; }
    // Makes a written snapshot file the newest (renamed to its final name,
    // unless it has it already: then it must be synced there), and deletes
    // all but the `keep` newest ones.
    Result<bool> adopt_snapshot(const std::string& file, const SnapshotInfo& info,
                                std::size_t keep = 2);
    // Deletes all but the `keep` (at least 1) newest snapshot files in dir;
    // safe on another thread (SnapshotTaker: an unlink of a big file waits
    // for the file system's journal).
    static void remove_old_snapshots(const std::string& dir, std::size_t keep);
    // The snapshot files in dir, newest first.
    static std::vector<std::string> snapshot_names_in(const std::string& dir);
    // Drops the log through `through` (<= the newest snapshot's index and
    // the applied index: asserted; raft::compaction_index says how far).
    void compact(raft::LogIndex through);
    // Replaces the applied state and the log with a snapshot file (received
    // from the leader, or a backup): the file is checked, adopted, the log
    // emptied to start after it, the state loaded from it. Synchronous.
    Result<bool> install_snapshot(const std::string& file);
    // The same in two steps, so that the part that grows with the state runs
    // off the loop. stage_install loads the file (every chunk checked) into
    // <path>/staging; it reads nothing of this storage but its fixed path
    // and options, so it may run on another thread. install_staged then
    // adopts the file, empties the log to start after it and swaps the
    // loaded state in by renaming directories: milliseconds, on the loop.
    // A crash in between is like one during install_snapshot: the state is
    // then behind the log and comes back from the adopted snapshot.
    Result<std::unique_ptr<StagedInstall>> stage_install(const std::string& file) const;
    Result<bool> install_staged(StagedInstall& staged);
    // Loads the state from the newest snapshot again: the end of an install
    // whose loading failed (a full disk) after the snapshot was adopted and
    // the log reset.
    Result<bool> reload_from_snapshot() { return load_state_from_snapshot("retrying an install"); }
    // Disaster recovery (cabildo-node --restore-from): this empty node
    // starts from a backup of another cluster. The state is loaded from the
    // file (left as it is), the log starts after its index, and a snapshot
    // of it is written anew with this cluster's id and `members`.
    // bad_request if this storage holds anything.
    Result<bool> restore_from(const std::string& backup, const raft::Membership& members);

    raft::HardState hard_state() const { return hard_state_; }
    raft::LogIndex applied_index() const { return applied_index_; }
    // True if open() found the state untrustworthy (an OS crash while it was
    // in use, a missing marker, an older format) and started it empty: the
    // node re-applies the log. discard_reason() says why.
    bool state_discarded() const;
    std::string discard_reason() const;
    // What recovering the log at open found and did.
    const LogReport& log_report() const { return log_->report(); }

    // One synced write transaction of the log environment: the hard state
    // (if given) and entries, which replace any stored suffix from
    // entries.front().index. A change of the commit index alone writes
    // nothing (it is only cached, and stored with the next write).
    // Preconditions (asserted): entries are consecutive; first_index() <=
    // entries.front().index <= last_index() + 1; the hard state's term and
    // commit_index do not go backwards. On error nothing changed.
    Result<bool> persist(const std::optional<raft::HardState>& hard_state,
                         const std::vector<raft::Entry>& entries);

    // Starts applying a batch; see ApplyTxn. Precondition: no other ApplyTxn
    // is in progress.
    Result<ApplyTxn> begin_apply();

    // Reads, each from one consistent snapshot. An empty or oversize key is
    // simply absent.
    std::optional<std::string> get(std::string_view key) const;
    std::optional<StoredValue> get_entry(std::string_view key) const;
    std::optional<LeaseRecord> lease(std::uint64_t id) const;
    std::vector<std::string> lease_keys(std::uint64_t id, std::size_t limit) const;
    // Up to limit leases with id >= from, in id order; *more if others follow.
    std::vector<std::pair<std::uint64_t, LeaseRecord>> leases(std::uint64_t from,
                                                              std::size_t limit,
                                                              bool* more) const;
    // Pairs stop at `limit` or before the key and value bytes would pass
    // bytes_max (at least one is returned); `more` says more matched.
    RangeResult range(std::string_view prefix, std::size_t limit,
                      std::size_t bytes_max = SIZE_MAX) const;
    std::optional<SessionRecord> session(std::uint64_t session_id) const;
    // The events with index >= from whose key starts with prefix, in index
    // order, from one read transaction. Stops after `limit` matches, or
    // before a match that would take the matching event bytes past bytes_max
    // (but never before the first match), or after examining scan_max events;
    // scanned_through and more say where (see EventsResult). If from <=
    // compacted_through some events are gone: the caller compares and
    // reports that itself; this still returns what is there.
    EventsResult events(raft::LogIndex from, std::string_view prefix, std::size_t limit,
                        std::size_t bytes_max, std::size_t scan_max) const;
    // Every event with index <= this was evicted (0: none).
    raft::LogIndex events_compacted_through() const;
    // The sum of a 64-bit hash of every key and value (kv_db.h), kept up to
    // date as entries apply, so O(1): equal across nodes whose state
    // machines hold the same pairs.
    std::uint64_t state_hash() const;
    // The membership as of the applied index (the last configuration entry
    // applied, or the snapshot's); nullopt: none stored, the bootstrap's.
    std::optional<raft::Membership> applied_membership() const;
    // The same, computed by scanning every pair: O(keys), tests only.
    std::uint64_t state_hash_by_scan() const;
    std::size_t key_count() const;
    // The bytes of the pages the client data occupies: the kv, leases and
    // lease_keys trees (branch, leaf and overflow pages, times the page
    // size), from one read transaction; O(1) (LMDB keeps the counts per
    // tree). It shrinks as keys are deleted: freed pages go back to LMDB's
    // free list for reuse, even though the file keeps its size. Events,
    // sessions and meta are not counted: they have bounds of their own
    // (Options::events_max, events_bytes_max, sessions_max), and a delete
    // adds an event, so counting them would let deletes raise the count.
    // For --quota-bytes (node_quota.cc).
    std::uint64_t state_bytes() const;
    // The current LMDB map size, for monitoring and tests.
    std::size_t map_bytes() const;
    // The part of the map in use (its last page in use, times the page
    // size) and the sessions remembered: O(1), for metrics.
    std::size_t map_used_bytes() const;
    std::size_t session_count() const;
    // Grows the map ahead of need (used past half of it), so that a
    // snapshot written meanwhile (which pins the map) does not hold writes
    // up. Precondition: no transaction or snapshot in progress.
    Status grow_map_if_half_full();
    // Bytes of entries persisted since this Storage opened (a counter, for
    // the snapshot policy).
    std::uint64_t log_bytes_written() const { return log_bytes_written_; }

    // FOR TESTS ONLY (fault injection): the next `count` commits, of
    // persist() or ApplyTxn::commit(), fail with io_error without writing.
    void set_fail_next_commits(int count);

private:
    friend class storage::ApplyTxn;

    Storage(std::string path, const Options& options, std::unique_ptr<DirLock> lock,
            std::unique_ptr<Databases> dbs, std::unique_ptr<LogFile> log);
    Result<bool> find_snapshot();
    void reopen_state_or_stop(const StateGuard& guard, const std::string& after);
    Result<bool> load_state_from_snapshot(const std::string& reason);
    Result<SnapshotInfo> replace_state(const std::string& file, const std::string& why);
    static bool is_snapshot_name(const std::string& name);
    std::vector<std::string> snapshot_names() const { return snapshot_names_in(snapshots_dir()); }
    void read_applied();
    void check_persist(const std::optional<raft::HardState>& hard_state,
                       const std::vector<raft::Entry>& entries) const;

    std::unique_ptr<DirLock> lock_;  // first in, last out: held while anything is open
    std::unique_ptr<Databases> dbs_;
    std::unique_ptr<LogFile> log_;
    std::string path_;
    Options options_;
    SnapshotInfo snapshot_;  // the newest snapshot file's (index 0: none)
    std::string restored_from_;
    std::uint64_t log_bytes_written_ = 0;
    raft::HardState hard_state_;  // the log's, with a commit index maybe ahead of it
    raft::LogIndex applied_index_ = 0;
};

}  // namespace cabildo::storage
