// Databases: the LMDB environment of one node's applied state (unsynced; the
// Raft log is a LogFile) and its named databases, plus the write-transaction
// runner that survives MDB_MAP_FULL.
//
// Internal to storage/ (includes <lmdb.h> through env.h). Storage and
// ApplyTxn share one instance; the layout is documented in storage.h.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "node/raft/result.h"
#include "storage/env.h"
#include "storage/event_db.h"
#include "storage/kv_db.h"
#include "storage/lease_db.h"
#include "storage/meta_db.h"
#include "storage/session_db.h"
#include "storage/state_guard.h"

namespace cabildo::storage {

struct Options;

struct Databases {
    // meta, kv, sessions, session_age, events, leases, lease_keys
    static constexpr unsigned dbs_max = 7;
    // meta "format" (meta_db.h). 5: meta "applied_term"; 6: key metadata in
    // kv values, leases, several events per index.
    static constexpr std::uint64_t state_format = 6;

    // Opens the environment under dir and every database, once, in one write
    // transaction: the handles are then valid for the life of the Env. If
    // the state cannot be trusted (see StateGuard), has another layout, or
    // is applied past applied_max (given after --repair-log cut the log),
    // it is emptied first; guard->reason() says why.
    static Result<std::unique_ptr<Databases>> open(
        const std::string& dir, const Options& options,
        std::optional<raft::LogIndex> applied_max = std::nullopt);

    // The environment and its databases, with guard's marker set in use.
    static Result<std::unique_ptr<Databases>> open_env(const StateGuard& guard,
                                                       const Options& options);
    Result<std::string> discard_reason(std::optional<raft::LogIndex> applied_max);

    // Runs body in one write transaction of env and commits it. If body or
    // the commit hits MDB_MAP_FULL, the transaction is aborted, the map
    // doubled and body run again from scratch, so body must depend only on
    // its inputs. Bounded: the map reaches map_bytes_max after a few
    // doublings, and then the result is storage_full.
    Result<bool> write(std::string_view what, const std::function<int(MDB_txn*)>& body);

    // Test hook (Storage::set_fail_next_commits): true if this commit must
    // fail with io_error instead of writing; consumes one.
    bool take_injected_failure();

    std::unique_ptr<Env> state_env;  // unsynced: see env.h
    MetaDb state_meta;               // the applied index, events_compacted
    std::optional<StateGuard> guard;  // of state_env; always set once open
    KvDb kv;
    SessionDb sessions;
    EventDb events;
    LeaseDb leases;
    std::size_t sessions_max = 0;
    EventDb::Bounds event_bounds;
    int commits_to_fail = 0;
};

}  // namespace cabildo::storage
