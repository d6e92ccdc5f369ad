// EventDb: the "events" database: the history of applied changes, one opaque
// event per key changed, under the log index that changed it, so a client
// can watch from a past revision.
//
// events: key [index u64 BE][position u32 BE] -> [key_len u16 BE][client key]
//         [event bytes]; position orders the events of one entry (a
//         transaction or a prefix delete changes several keys).
//
// The event bytes are node/'s encoding (through wire/); storage/ never looks
// inside them, and keeps the client key beside them only to filter by
// prefix. Not a log: indexes have gaps (entries that changed nothing).
// Invariant (once eviction has caught up, see add()): at most events_max
// events and at most bytes_max bytes of them (but always the newest one),
// the newest. Eviction removes the smallest index first, inside the apply
// transaction, from replicated data only, so every node with the same bounds
// keeps the same events; the caller records the highest evicted index (meta
// "events_compacted") and the bytes kept (meta "events_bytes"). Writes
// return LMDB codes; reads assert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/raft/types.h"
#include "storage/env.h"
#include "storage/records.h"

namespace cabildo::storage {

class EventDb {
public:
    // Where scan() stops: after `limit` matches, before a match that would
    // take the matching event bytes past bytes_max (but never before the
    // first match), or after examining scan_max events.
    struct Limits {
        std::size_t limit = 0;
        std::size_t bytes_max = 0;
        std::size_t scan_max = 0;
    };

    // How much history to keep.
    struct Bounds {
        std::size_t events_max = 0;
        std::uint64_t bytes_max = 0;  // of the stored values (key and event)
    };
    // Evictions per add() at most: one add evicts one event in the steady
    // state, more after a large event or lowered bounds, and the rest on the
    // next adds, so no single apply does unbounded work.
    static constexpr std::size_t evictions_per_add_max = 1024;

    int open(MDB_txn* txn) { return open_dbi(txn, "events", &dbi_); }

    // Stores the event under index and, while that leaves more than
    // bounds.events_max events or more than bounds.bytes_max bytes, evicts
    // the oldest (never the new one, at most evictions_per_add_max).
    // *bytes is the stored total before and after; *evicted_through is the
    // highest index evicted whole, else 0. Preconditions (asserted): (index,
    // position) is above every stored event's; key fits its u16 length.
    int add(MDB_txn* txn, raft::LogIndex index, std::uint32_t position, std::string_view key,
            std::string_view event, const Bounds& bounds, std::uint64_t* bytes,
            raft::LogIndex* evicted_through);

    // Appends to out->events the events with index >= from whose key starts
    // with prefix, in index order, within limits. Sets out->more if it
    // stopped before the last stored event, and raises out->scanned_through
    // to the last index it examined. It stops only between indexes (the
    // limits may be passed by the rest of one index's events), so a
    // continuation from scanned_through + 1 misses nothing.
    void scan(MDB_txn* txn, raft::LogIndex from, std::string_view prefix, const Limits& limits,
              EventsResult* out) const;

    MDB_dbi dbi() const { return dbi_; }

private:
    int evict_oldest(MDB_txn* txn, const Bounds& bounds, std::uint64_t* bytes,
                     raft::LogIndex* evicted_through);

    MDB_dbi dbi_ = 0;
};

}  // namespace cabildo::storage
