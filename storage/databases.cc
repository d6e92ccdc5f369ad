// Databases: see databases.h.
#include "storage/databases.h"

#include <utility>

#include "node/raft/assert.h"
#include "storage/state_guard.h"
#include "storage/storage.h"

namespace cabildo::storage {

Result<std::unique_ptr<Databases>> Databases::open(const std::string& dir, const Options& options,
                                                   std::optional<raft::LogIndex> applied_max) {
    StateGuard guard(dir, options.boot_id);
    auto prepared = guard.prepare();  // discards an untrustworthy state env
    if (!prepared)
        return prepared.error();
    auto dbs = open_env(guard, options);
    if (!dbs)
        return dbs.error();
    auto reason = (*dbs)->discard_reason(applied_max);
    if (!reason)
        return reason.error();
    if (reason->empty())
        return dbs;
    // Derived data: rebuilt from the log rather than converted or trusted.
    dbs->reset();  // closes the environment
    auto discarded = guard.discard(*reason);
    if (!discarded)
        return discarded.error();
    dbs = open_env(guard, options);
    if (!dbs)
        return dbs.error();
    reason = (*dbs)->discard_reason(applied_max);
    if (!reason)
        return reason.error();
    CABILDO_ASSERT(reason->empty(), "a new state environment must be kept");
    return dbs;
}

Result<std::unique_ptr<Databases>> Databases::open_env(const StateGuard& guard,
                                                       const Options& options) {
    auto state_env =
        Env::open(guard.state_dir(), options.map_bytes_initial, options.map_bytes_max, dbs_max);
    if (!state_env)
        return state_env.error();
    auto dbs = std::make_unique<Databases>();
    dbs->state_env = std::move(*state_env);
    dbs->guard.emplace(guard);
    // Only now may unsynced commits start: the marker is on disk.
    auto marked = dbs->guard->mark_in_use();
    if (!marked)
        return marked.error();
    dbs->sessions_max = options.sessions_max;
    dbs->event_bounds = {options.events_max, options.events_bytes_max};
    Databases& d = *dbs;
    auto opened = d.write("open databases", [&d](MDB_txn* txn) {
        int rc = d.state_meta.open(txn);
        if (rc == 0)
            rc = d.kv.open(txn, d.state_env->key_bytes_max());
        if (rc == 0)
            rc = d.sessions.open(txn);
        if (rc == 0)
            rc = d.events.open(txn);
        if (rc == 0)
            rc = d.leases.open(txn);
        return rc;
    });
    if (!opened)
        return opened.error();
    return dbs;
}

// Why this environment must be discarded, or empty if it can be kept: another
// layout (before the incremental state hash, or with another per-pair hash),
// or an applied index above applied_max. An empty one is stamped with the
// current format.
Result<std::string> Databases::discard_reason(std::optional<raft::LogIndex> applied_max) {
    std::uint64_t format = 0;
    raft::LogIndex applied = 0;
    bool empty = false;
    {
        ReadTxn txn(*state_env);
        format = state_meta.format(txn.raw());
        applied = state_meta.applied(txn.raw());
        empty = applied == 0 && kv.count(txn.raw()) == 0;
    }
    if (applied_max && applied > *applied_max)
        return std::string("--repair-log cut the log below it");
    if (format == state_format)
        return std::string();
    if (!empty) {
        return "it has state format " + std::to_string(format) + " and this node writes format " +
               std::to_string(state_format);
    }
    auto stamped = write("stamp the state format", [this](MDB_txn* txn) {
        return state_meta.set_format(txn, state_format);
    });
    if (!stamped)
        return stamped.error();
    return std::string();
}

Result<bool> Databases::write(std::string_view what, const std::function<int(MDB_txn*)>& body) {
    Env& env = *state_env;
    for (int attempt = 0;; ++attempt) {
        CABILDO_ASSERT(attempt <= map_grows_per_txn_max, "map growth did not terminate");
        auto txn = WriteTxn::begin(env);
        if (!txn)
            return txn.error();
        int rc = body((*txn)->raw());
        if (rc == 0 && take_injected_failure()) {
            return Error{Status::io_error, std::string(what) + ": injected commit failure"};
        }
        rc = rc == 0 ? (*txn)->commit() : rc;
        (*txn)->abort();  // no-op after commit; LMDB needs it after a failed put
        if (rc == 0)
            return true;
        if (rc != MDB_MAP_FULL)
            return lmdb_error(rc, what);
        Status grown = env.grow();
        if (grown != Status::ok) {
            return Error{grown, std::string(what) + ": map is full and cannot grow now"};
        }
    }
}

bool Databases::take_injected_failure() {
    if (commits_to_fail <= 0)
        return false;
    --commits_to_fail;
    return true;
}

}  // namespace cabildo::storage
