// Env, ReadTxn, WriteTxn: small RAII wrappers over an LMDB environment and its
// transactions, plus the MDB_val helpers the per-database classes share.
//
// This header is internal to storage/: it includes <lmdb.h>, which no code
// outside storage/ may see. It knows nothing about Raft or the key-value
// layout; Storage and the *_db classes give the bytes their meaning. Nothing
// here throws: failures are LMDB return codes or Results.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "node/raft/result.h"

namespace cabildo::storage {

// Retry bound for MDB_MAP_FULL: each retry doubles the map, so 64 doublings
// pass any size_t. In practice Env::grow() stops at map_bytes_max long before.
constexpr int map_grows_per_txn_max = 64;

// The LMDB environment of a node's applied state: one directory holding
// data.mdb and lock.mdb, opened with MDB_NOTLS so read transactions are not
// tied to a thread and one reset read transaction can be renewed for every
// read.
//
// Durability: MDB_NOSYNC | MDB_WRITEMAP. A commit writes through a shared
// mapping and returns without any system call for the data: it is visible at
// once and survives a crash of the process (the OS holds the pages), but an
// OS crash may lose it or leave a torn tree. That is only acceptable because
// everything stored here is derived from the synced Raft log and StateGuard
// throws it away after an OS crash (storage.h). Never put what Raft promises
// (votes, acknowledged entries) in an Env.
//
// WRITEMAP's hazards, and how they are met: a write to a page of a sparse
// file the disk has no room for kills the process with SIGBUS, so the file's
// blocks are allocated up front for the whole map (posix_fallocate), and a
// full disk is a storage_full from open() or grow() instead; a stray pointer
// in this process could scribble on the map, which ASan/UBSan runs guard
// against; no nested transactions are used.
//
// Invariant: txns_active_ counts the live transactions of this process, and
// the map is only resized when it is 0 (mdb_env_set_mapsize remaps the file,
// so a live transaction would point into the old mapping).
// Not thread-safe: the node's loop thread owns it.
class Env {
public:
    static Result<std::unique_ptr<Env>> open(const std::string& dir, std::size_t map_bytes_initial,
                                             std::size_t map_bytes_max, unsigned dbs_max);
    ~Env();
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    MDB_env* raw() const { return env_; }
    std::size_t map_bytes() const { return map_bytes_; }
    std::size_t key_bytes_max() const;

    // Doubles the map (capped at map_bytes_max), after MDB_MAP_FULL. Returns
    // storage_full once the map is already at its maximum or the disk has no
    // room for it, io_error if LMDB refuses; then the map is unchanged.
    // Precondition: no transaction of this process is live.
    Status grow();
    // Forces every commit so far to disk (fsync). 0 or an errno-style code.
    int sync();
    // Bytes of the map in use (up to the last page written).
    std::size_t used_bytes() const;

    // Held by a thread that reads the map with its own transaction (a
    // snapshot being written): meanwhile grow() refuses with `unavailable`,
    // since a remap would pull the pages from under it.
    class ReaderPin {
    public:
        explicit ReaderPin(Env& env) : env_(env) { ++env_.pinned_; }
        ~ReaderPin() { --env_.pinned_; }
        ReaderPin(const ReaderPin&) = delete;
        ReaderPin& operator=(const ReaderPin&) = delete;

    private:
        Env& env_;
    };

private:
    friend class ReadTxn;
    friend class WriteTxn;

    Env(MDB_env* env, std::size_t map_bytes, std::size_t map_bytes_max);

    MDB_env* env_;
    std::size_t map_bytes_;
    std::size_t map_bytes_max_;
    // A reset read transaction kept for reuse (mdb_txn_renew), or null.
    MDB_txn* read_idle_ = nullptr;
    int txns_active_ = 0;
    bool write_active_ = false;
    std::atomic<int> pinned_{0};
};

// A read-only snapshot for the duration of one Storage call. Reads have no
// error channel in the Storage API, so failing to start one (a broken or
// panicked environment) is fatal: the node stops rather than answer wrongly.
class ReadTxn {
public:
    explicit ReadTxn(Env& env);
    ~ReadTxn();
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;

    MDB_txn* raw() const { return txn_; }

private:
    Env& env_;
    MDB_txn* txn_ = nullptr;
};

// The single write transaction. Aborted by the destructor unless committed.
// Only one may be live per Env (LMDB's writer lock is not reentrant).
class WriteTxn {
public:
    static Result<std::unique_ptr<WriteTxn>> begin(Env& env);
    ~WriteTxn();
    WriteTxn(const WriteTxn&) = delete;
    WriteTxn& operator=(const WriteTxn&) = delete;

    MDB_txn* raw() const { return txn_; }
    // Ends the transaction either way (LMDB frees it even when commit fails)
    // and returns the LMDB code: 0, MDB_MAP_FULL, ENOSPC, EIO, ...
    int commit();
    void abort();

private:
    WriteTxn(Env& env, MDB_txn* txn) : env_(env), txn_(txn) {}
    void finish();

    Env& env_;
    MDB_txn* txn_;
};

// A cursor over one database, closed when it goes out of scope. It must go
// out of scope BEFORE its transaction commits or aborts.
class Cursor {
public:
    Cursor(MDB_txn* txn, MDB_dbi dbi);
    ~Cursor() { mdb_cursor_close(cursor_); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    MDB_cursor* raw() const { return cursor_; }

private:
    MDB_cursor* cursor_ = nullptr;
};

// Maps an LMDB code to an Error: full disk or map -> storage_full, anything
// else -> io_error. `what` names the operation for the log.
Error lmdb_error(int rc, std::string_view what);

// Opens (creating if needed) the named database inside a write transaction.
int open_dbi(MDB_txn* txn, const char* name, MDB_dbi* dbi, unsigned flags = 0);

inline MDB_val to_val(std::string_view bytes) {
    return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

inline std::string_view to_view(const MDB_val& val) {
    return std::string_view(static_cast<const char*>(val.mv_data), val.mv_size);
}

}  // namespace cabildo::storage
