// LeaseDb: the "leases" and "lease_keys" databases: every granted lease and
// the keys attached to it, so that revoking or expiring a lease deletes
// exactly those keys on every node.
//
// leases:     key [lease id u64 BE] -> [ttl_ms u64][renewed u64][keys u64]
// lease_keys: key [lease id u64 BE] -> [client key], one duplicate per key
//             (MDB_DUPSORT: a key of 8 + 511 bytes would pass LMDB's limit)
//
// Invariant: a lease's `keys` counts its lease_keys entries, and a key is in
// lease_keys under L exactly when its kv metadata says lease L. Writes return
// LMDB codes; reads assert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/env.h"
#include "storage/records.h"

namespace cabildo::storage {

class LeaseDb {
public:
    int open(MDB_txn* txn);

    std::optional<LeaseRecord> get(MDB_txn* txn, std::uint64_t lease) const;
    int put(MDB_txn* txn, std::uint64_t lease, const LeaseRecord& record);
    // Removes the lease record (its keys are the caller's to detach first).
    int erase(MDB_txn* txn, std::uint64_t lease);
    int attach(MDB_txn* txn, std::uint64_t lease, std::string_view key);
    int detach(MDB_txn* txn, std::uint64_t lease, std::string_view key);
    // Up to limit keys attached to the lease, in key order.
    std::vector<std::string> keys(MDB_txn* txn, std::uint64_t lease, std::size_t limit) const;
    // The first key attached to the lease starting with prefix (one seek).
    std::optional<std::string> key_with_prefix(MDB_txn* txn, std::uint64_t lease,
                                               std::string_view prefix) const;
    // Up to limit leases with id >= from, in id order; *more if others follow.
    std::vector<std::pair<std::uint64_t, LeaseRecord>> list(MDB_txn* txn, std::uint64_t from,
                                                            std::size_t limit, bool* more) const;
    // The highest lease id (0: none).
    std::uint64_t last_id(MDB_txn* txn) const;
    std::size_t count(MDB_txn* txn) const;

    MDB_dbi leases_dbi() const { return leases_dbi_; }
    MDB_dbi keys_dbi() const { return keys_dbi_; }

private:
    MDB_dbi leases_dbi_ = 0;
    MDB_dbi keys_dbi_ = 0;
};

}  // namespace cabildo::storage
