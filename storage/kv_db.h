// KvDb: the "kv" database: the replicated key-value state machine's data.
//
// Keys are the client's bytes, unchanged: key order is LMDB's memcmp order,
// which range() and state_hash() follow. Values are stored with their
// metadata in front (codec::encode_kv); get/put/hash see those bytes, range()
// decodes them. Keys are 1 to
// key_bytes_max (511) bytes; callers check with key_fits() first. Writes
// return LMDB codes; reads assert on anything but "not found".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/env.h"
#include "storage/records.h"

namespace cabildo::storage {

class KvDb {
public:
    int open(MDB_txn* txn, std::size_t key_bytes_max);

    bool key_fits(std::string_view key) const {
        return !key.empty() && key.size() <= key_bytes_max_;
    }

    // Precondition for all: key_fits(key).
    std::optional<std::string> get(MDB_txn* txn, std::string_view key) const;
    // The metadata in front of the stored value, read in place (no copy of it).
    std::optional<KeyMeta> get_meta(MDB_txn* txn, std::string_view key) const;
    int put(MDB_txn* txn, std::string_view key, std::string_view value);
    // MDB_NOTFOUND is not an error here: *existed says whether it was there.
    int erase(MDB_txn* txn, std::string_view key, bool* existed);

    // Up to limit pairs whose key starts with prefix, stopping before a pair
    // that would take their key and value bytes past bytes_max (but never
    // before the first); out->more if more match. Reads no more than that.
    // keys_only: values are neither copied nor counted (they come back empty).
    // Keys starting with skip (if not empty) are passed over, with one seek.
    void range(MDB_txn* txn, std::string_view prefix, std::size_t limit, std::size_t bytes_max,
               RangeResult* out, bool keys_only = false, std::string_view skip = {}) const;
    // The hash of one pair: XXH3-64 of the value, seeded with XXH3-64 of
    // the key (xxHash 0.8). The state hash is the sum (mod 2^64) over every
    // pair: order-independent, so ApplyTxn keeps it up to date per write
    // (subtract the old pair, add the new) and reading it costs O(1).
    static std::uint64_t pair_hash(std::string_view key, std::string_view value);
    // pair_hash of the stored pair for key, if there is one.
    std::optional<std::uint64_t> stored_pair_hash(MDB_txn* txn, std::string_view key) const;
    // That sum computed by a full scan, O(keys): for tests and checks only.
    std::uint64_t hash_by_scan(MDB_txn* txn) const;
    std::size_t count(MDB_txn* txn) const;

    MDB_dbi dbi() const { return dbi_; }

private:
    MDB_dbi dbi_ = 0;
    std::size_t key_bytes_max_ = 0;
};

}  // namespace cabildo::storage
