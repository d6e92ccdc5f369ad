// Databases: see databases.h.
#include "storage/databases.h"

#include <utility>

#include "node/raft/assert.h"
#include "storage/storage.h"

namespace cabildo::storage {

Result<std::unique_ptr<Databases>> Databases::open(const std::string& dir, const Options& options) {
    auto env = Env::open(dir, options.map_bytes_initial, options.map_bytes_max, dbs_max);
    if (!env)
        return env.error();
    auto dbs = std::make_unique<Databases>();
    dbs->env = std::move(*env);
    dbs->sessions_max = options.sessions_max;
    dbs->events_max = options.events_max;
    Databases& d = *dbs;
    auto opened = d.write("open databases", [&d](MDB_txn* txn) {
        int rc = d.log.open(txn);
        if (rc == 0)
            rc = d.meta.open(txn);
        if (rc == 0)
            rc = d.kv.open(txn, d.env->key_bytes_max());
        if (rc == 0)
            rc = d.sessions.open(txn);
        if (rc == 0)
            rc = d.events.open(txn);
        return rc;
    });
    if (!opened)
        return opened.error();
    return dbs;
}

Result<bool> Databases::write(std::string_view what, const std::function<int(MDB_txn*)>& body) {
    for (int attempt = 0;; ++attempt) {
        CABILDO_ASSERT(attempt <= map_grows_per_txn_max, "map growth did not terminate");
        auto txn = WriteTxn::begin(*env);
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
        Status grown = env->grow();
        if (grown != Status::ok) {
            return Error{grown, std::string(what) + ": map is full and cannot grow"};
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
