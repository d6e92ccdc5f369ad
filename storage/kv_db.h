// KvDb: the "kv" database: the replicated key-value state machine's data.
//
// Keys and values are the client's bytes, unchanged: key order is LMDB's
// memcmp order, which range() and state_hash() follow. Keys are 1 to
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
    int put(MDB_txn* txn, std::string_view key, std::string_view value);
    // MDB_NOTFOUND is not an error here: *existed says whether it was there.
    int erase(MDB_txn* txn, std::string_view key, bool* existed);

    // Up to limit pairs whose key starts with prefix; out->more if there are more.
    void range(MDB_txn* txn, std::string_view prefix, std::size_t limit, RangeResult* out) const;
    // FNV-1a 64 over [applied u64 BE] then, per pair in key order,
    // [key size u64 BE][key][value size u64 BE][value]. Sizes keep
    // ("ab","c") and ("a","bc") apart.
    std::uint64_t hash(MDB_txn* txn, std::uint64_t applied) const;
    std::size_t count(MDB_txn* txn) const;

private:
    MDB_dbi dbi_ = 0;
    std::size_t key_bytes_max_ = 0;
};

}  // namespace cabildo::storage
