// LogDb: the Raft log database ("log") inside the node's LMDB environment.
//
// Key: the entry's index as 8 bytes big-endian, so LMDB's memcmp order is
// index order and new entries go in with MDB_APPEND. Value: [term u64 BE]
// [type u8][data]. It is not the owner of the in-memory bounds cache: Storage
// keeps first/last index and the last term and passes them in.
//
// Invariant: the stored indexes are contiguous, [first, last] with no hole.
// Reads assert on LMDB failures (no error channel); writes return LMDB codes
// so the caller can grow the map and retry.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "node/raft/types.h"
#include "storage/env.h"

namespace cabildo::storage {

class LogDb {
public:
    // first = 1 and last = 0 for an empty log (no compaction yet).
    struct Bounds {
        raft::LogIndex first = 1;
        raft::LogIndex last = 0;
        raft::Term last_term = 0;
    };

    int open(MDB_txn* txn) { return open_dbi(txn, "log", &dbi_); }

    Bounds bounds(MDB_txn* txn) const;
    std::optional<raft::Term> term_at(MDB_txn* txn, raft::LogIndex index) const;
    // Entries in [lo, hi); see raft::LogReader::entries for bytes_max.
    std::vector<raft::Entry> entries(MDB_txn* txn, raft::LogIndex lo, raft::LogIndex hi,
                                     std::size_t bytes_max) const;

    // Deletes the stored entries [entries.front().index, last] and appends
    // entries. Raft §5.4: an entry at or below commit_index is committed, so
    // it may be rewritten only with the same term and never removed (assert).
    int replace_suffix(MDB_txn* txn, const std::vector<raft::Entry>& entries, raft::LogIndex last,
                       raft::LogIndex commit_index);

private:
    int delete_suffix(MDB_txn* txn, const std::vector<raft::Entry>& entries, raft::LogIndex last,
                      raft::LogIndex commit_index);
    int append(MDB_txn* txn, const std::vector<raft::Entry>& entries);

    MDB_dbi dbi_ = 0;
};

}  // namespace cabildo::storage
