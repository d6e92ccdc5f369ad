// Plain records returned by Storage and ApplyTxn: a client session's last
// answer, the result of a prefix range read and a page of the event history.
//
// Public: included by node/ through storage.h. No LMDB types appear here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "node/raft/types.h"

namespace cabildo::storage {

// The last command a client session had applied, and the reply it got, so a
// retried command (same seq) is answered again instead of executed twice.
struct SessionRecord {
    std::uint64_t seq = 0;
    raft::LogIndex index = 0;  // log index that last used the session (eviction age)
    std::string reply;

    bool operator==(const SessionRecord&) const = default;
};

// What the state machine keeps beside each value (etcd's KeyValue fields):
// revisions are log indexes. version counts the writes since the key was
// created (1 after the first); lease is 0 when none is attached.
struct KeyMeta {
    std::uint64_t create_revision = 0;
    std::uint64_t mod_revision = 0;
    std::uint64_t version = 0;
    std::uint64_t lease = 0;

    bool operator==(const KeyMeta&) const = default;
};

struct StoredValue {
    std::string value;
    KeyMeta meta;

    bool operator==(const StoredValue&) const = default;
};

// A lease as the state machine keeps it. Its expiry time is not state: each
// node's clock judges it (node/lease_clock.h); `renewed` is the log index of
// the grant or the last keepalive, so an expiry judged on an older renewal
// does nothing.
struct LeaseRecord {
    std::uint64_t ttl_ms = 0;
    std::uint64_t renewed = 0;
    std::uint64_t keys = 0;  // keys attached

    bool operator==(const LeaseRecord&) const = default;
};

// Keys with a prefix, in key order, from one consistent snapshot.
struct RangeResult {
    std::vector<std::pair<std::string, std::string>> kvs;  // (key, value)
    std::vector<KeyMeta> metas;        // kvs[i]'s metadata
    bool more = false;                 // another matching key exists past the limit
    raft::LogIndex applied_index = 0;  // the snapshot's applied index (a revision)
};

// A page of the event history (Storage::events), from one consistent
// snapshot. To continue, ask again from scanned_through + 1.
struct EventsResult {
    // (index, event bytes), ascending; an index may have several (a
    // transaction, a prefix delete), always all of them.
    std::vector<std::pair<raft::LogIndex, std::string>> events;
    // Last index examined (continue from scanned_through + 1); from - 1 (0
    // for from 0) if none was. When !more the scan reached the end of the
    // history and this is at least applied_index: no event up to it was missed.
    raft::LogIndex scanned_through = 0;
    bool more = false;                     // stopped at limit/bytes_max/scan_max before the end
    raft::LogIndex compacted_through = 0;  // every event with index <= this was evicted
    // Applied index in the same read txn (events cover up to it).
    raft::LogIndex applied_index = 0;
};

}  // namespace cabildo::storage
