// KvDb: see kv_db.h.
#include "storage/kv_db.h"

#include <xxhash.h>

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

int KvDb::open(MDB_txn* txn, std::size_t key_bytes_max) {
    key_bytes_max_ = key_bytes_max;
    return open_dbi(txn, "kv", &dbi_);
}

std::optional<std::string> KvDb::get(MDB_txn* txn, std::string_view key) const {
    CABILDO_ASSERT(key_fits(key), "kv get with a bad key size");
    MDB_val k = to_val(key);
    MDB_val v{};
    int rc = mdb_get(txn, dbi_, &k, &v);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(kv) failed");
    return std::string(to_view(v));
}

std::optional<KeyMeta> KvDb::get_meta(MDB_txn* txn, std::string_view key) const {
    CABILDO_ASSERT(key_fits(key), "kv get with a bad key size");
    MDB_val k = to_val(key);
    MDB_val v{};
    int rc = mdb_get(txn, dbi_, &k, &v);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(kv) failed");
    return codec::decode_kv(to_view(v)).meta;
}

int KvDb::put(MDB_txn* txn, std::string_view key, std::string_view value) {
    CABILDO_ASSERT(key_fits(key), "kv put with a bad key size");
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    return mdb_put(txn, dbi_, &k, &v, 0);
}

int KvDb::erase(MDB_txn* txn, std::string_view key, bool* existed) {
    CABILDO_ASSERT(key_fits(key), "kv erase with a bad key size");
    MDB_val k = to_val(key);
    int rc = mdb_del(txn, dbi_, &k, nullptr);
    *existed = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

namespace {

// The first key after every key starting with prefix ("" if none is).
std::string successor(std::string_view prefix) {
    std::string next(prefix);
    while (!next.empty() && static_cast<unsigned char>(next.back()) == 0xff) next.pop_back();
    if (!next.empty()) next.back() = static_cast<char>(next.back() + 1);
    return next;
}

}  // namespace

void KvDb::range(MDB_txn* txn, std::string_view prefix, std::size_t limit, std::size_t bytes_max,
                 RangeResult* out, bool keys_only, std::string_view skip) const {
    if (prefix.size() > key_bytes_max_)
        return;  // no stored key can be that long
    Cursor cursor(txn, dbi_);
    MDB_val k = to_val(prefix);
    MDB_val v{};
    std::size_t bytes = 0;
    const std::string past_skip = skip.empty() ? std::string() : successor(skip);
    // MDB_SET_RANGE rejects an empty key: an empty prefix starts at the first key.
    int rc = mdb_cursor_get(cursor.raw(), &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0 && to_view(k).starts_with(prefix)) {
        if (!skip.empty() && to_view(k).starts_with(skip)) {
            if (past_skip.empty()) break;
            k = to_val(past_skip);
            rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_SET_RANGE);
            continue;
        }
        const std::size_t pair_bytes =
            k.mv_size + (keys_only ? 0 : v.mv_size - codec::kv_meta_bytes);
        if (out->kvs.size() == limit || (!out->kvs.empty() && bytes + pair_bytes > bytes_max)) {
            out->more = true;
            return;
        }
        bytes += pair_bytes;
        const codec::KvView stored = codec::decode_kv(to_view(v));
        out->kvs.emplace_back(std::string(to_view(k)),
                              keys_only ? std::string() : std::string(stored.value));
        out->metas.push_back(stored.meta);
        rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT);
    }
    CABILDO_ASSERT(rc == 0 || rc == MDB_NOTFOUND, "kv range scan failed");
}

std::uint64_t KvDb::pair_hash(std::string_view key, std::string_view value) {
    // The key's hash seeds the value's, so ("ab","c") and ("a","bc") differ.
    const XXH64_hash_t key_hash = XXH3_64bits(key.data(), key.size());
    return XXH3_64bits_withSeed(value.data(), value.size(), key_hash);
}

std::optional<std::uint64_t> KvDb::stored_pair_hash(MDB_txn* txn, std::string_view key) const {
    CABILDO_ASSERT(key_fits(key), "kv get with a bad key size");
    MDB_val k = to_val(key);
    MDB_val v{};
    const int rc = mdb_get(txn, dbi_, &k, &v);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(kv) failed");
    return pair_hash(key, to_view(v));  // hashed in place: no copy of the value
}

std::uint64_t KvDb::hash_by_scan(MDB_txn* txn) const {
    std::uint64_t sum = 0;
    Cursor cursor(txn, dbi_);
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_FIRST);
    while (rc == 0) {
        sum += pair_hash(to_view(k), to_view(v));
        rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT);
    }
    CABILDO_ASSERT(rc == MDB_NOTFOUND, "kv hash scan failed");
    return sum;
}

std::size_t KvDb::count(MDB_txn* txn) const {
    MDB_stat stat{};
    int rc = mdb_stat(txn, dbi_, &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat(kv) failed");
    return stat.ms_entries;
}

}  // namespace cabildo::storage
