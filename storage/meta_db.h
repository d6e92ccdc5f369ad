// MetaDb: the "meta" database: the Raft hard state, the applied index and
// how far the event history has been evicted.
//
// Keys are ASCII names: "hard_state" -> [term][voted_for][commit_index],
// "applied" -> [index], "events_compacted" -> [index], "kv_hash" -> [sum],
// "events_bytes" -> [bytes], "format" -> [version], all u64 big-endian;
// "membership" -> raft::encode_membership of the membership as of the
// applied index (absent: never changed since the bootstrap).
// A key never written reads as zero (a fresh node). Writes return LMDB
// codes; reads assert.
#pragma once

#include <optional>

#include "node/raft/types.h"
#include "storage/env.h"

namespace cabildo::storage {

class MetaDb {
public:
    int open(MDB_txn* txn) { return open_dbi(txn, "meta", &dbi_); }

    raft::HardState hard_state(MDB_txn* txn) const;
    raft::LogIndex applied(MDB_txn* txn) const;
    int set_hard_state(MDB_txn* txn, const raft::HardState& hard_state);
    int set_applied(MDB_txn* txn, raft::LogIndex index);
    // The highest evicted event index (see EventDb); 0 if none was evicted.
    raft::LogIndex events_compacted(MDB_txn* txn) const;
    int set_events_compacted(MDB_txn* txn, raft::LogIndex index);
    // The state hash: the sum of KvDb::pair_hash over every pair (0: empty).
    std::uint64_t kv_hash(MDB_txn* txn) const;
    int set_kv_hash(MDB_txn* txn, std::uint64_t hash);
    // The bytes of the stored events (EventDb); 0 when never written.
    std::uint64_t events_bytes(MDB_txn* txn) const;
    int set_events_bytes(MDB_txn* txn, std::uint64_t bytes);
    // The state environment's layout version; 1 when never written (before
    // "kv_hash" existed).
    std::uint64_t format(MDB_txn* txn) const;
    int set_format(MDB_txn* txn, std::uint64_t format);

    // The term of the entry at the applied index, so that a copy of the
    // state says where in the log it is (a snapshot).
    raft::Term applied_term(MDB_txn* txn) const;
    int set_applied_term(MDB_txn* txn, raft::Term term);
    // The membership as of the applied index; nullopt if none was stored.
    std::optional<raft::Membership> membership(MDB_txn* txn) const;
    int set_membership(MDB_txn* txn, const raft::Membership& membership);
    MDB_dbi dbi() const { return dbi_; }

private:
    MDB_dbi dbi_ = 0;
};

}  // namespace cabildo::storage
