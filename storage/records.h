// Plain records returned by Storage and ApplyTxn: a client session's last
// answer and the result of a prefix range read.
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

// Keys with a prefix, in key order, from one consistent snapshot.
struct RangeResult {
    std::vector<std::pair<std::string, std::string>> kvs;
    bool more = false;                 // another matching key exists past the limit
    raft::LogIndex applied_index = 0;  // the snapshot's applied index (a revision)
};

}  // namespace cabildo::storage
