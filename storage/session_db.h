// SessionDb: the "sessions" and "session_age" databases: the last answer
// per client session (exactly-once commands) and the age index used to evict
// sessions beyond sessions_max.
//
// sessions:    key [session id u64 BE] -> [seq u64 BE][index u64 BE][reply]
// session_age: key [index u64 BE][session id u64 BE] -> empty
//
// Invariant: every session has exactly one age key, holding its index.
// Eviction removes the smallest age key first: the session least recently
// used by the log, ties broken by session id. It happens inside the apply
// transaction, from replicated data only, so every node evicts the same
// sessions at the same index. Writes return LMDB codes; reads assert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "node/raft/types.h"
#include "storage/env.h"
#include "storage/records.h"

namespace cabildo::storage {

class SessionDb {
public:
    int open(MDB_txn* txn);

    std::optional<SessionRecord> get(MDB_txn* txn, std::uint64_t session_id) const;
    // Records (seq, index, reply) for the session and, if that makes more
    // than sessions_max sessions, evicts the oldest.
    int set(MDB_txn* txn, std::uint64_t session_id, std::uint64_t seq, raft::LogIndex index,
            std::string_view reply, std::size_t sessions_max);

    MDB_dbi sessions_dbi() const { return sessions_dbi_; }
    MDB_dbi age_dbi() const { return age_dbi_; }

private:
    int evict_oldest(MDB_txn* txn, std::size_t sessions_max);

    MDB_dbi sessions_dbi_ = 0;
    MDB_dbi age_dbi_ = 0;
};

}  // namespace cabildo::storage
