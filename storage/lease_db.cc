// LeaseDb: see lease_db.h.
#include "storage/lease_db.h"

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

int LeaseDb::open(MDB_txn* txn) {
    const int rc = open_dbi(txn, "leases", &leases_dbi_);
    return rc != 0 ? rc : open_dbi(txn, "lease_keys", &keys_dbi_, MDB_DUPSORT);
}

std::optional<LeaseRecord> LeaseDb::get(MDB_txn* txn, std::uint64_t lease) const {
    codec::U64Key id = codec::u64_key(lease);
    MDB_val k = to_val(codec::view(id));
    MDB_val v{};
    const int rc = mdb_get(txn, leases_dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(leases) failed");
    return codec::decode_lease(to_view(v));
}

int LeaseDb::put(MDB_txn* txn, std::uint64_t lease, const LeaseRecord& record) {
    codec::U64Key id = codec::u64_key(lease);
    MDB_val k = to_val(codec::view(id));
    const std::string value = codec::encode_lease(record);
    MDB_val v = to_val(value);
    return mdb_put(txn, leases_dbi_, &k, &v, 0);
}

int LeaseDb::erase(MDB_txn* txn, std::uint64_t lease) {
    codec::U64Key id = codec::u64_key(lease);
    MDB_val k = to_val(codec::view(id));
    const int rc = mdb_del(txn, leases_dbi_, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int LeaseDb::attach(MDB_txn* txn, std::uint64_t lease, std::string_view key) {
    codec::U64Key id = codec::u64_key(lease);
    MDB_val k = to_val(codec::view(id));
    MDB_val v = to_val(key);
    const int rc = mdb_put(txn, keys_dbi_, &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

int LeaseDb::detach(MDB_txn* txn, std::uint64_t lease, std::string_view key) {
    codec::U64Key id = codec::u64_key(lease);
    MDB_val k = to_val(codec::view(id));
    MDB_val v = to_val(key);
    const int rc = mdb_del(txn, keys_dbi_, &k, &v);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

std::vector<std::string> LeaseDb::keys(MDB_txn* txn, std::uint64_t lease,
                                       std::size_t limit) const {
    std::vector<std::string> out;
    codec::U64Key id = codec::u64_key(lease);
    Cursor cursor(txn, keys_dbi_);
    MDB_val k = to_val(codec::view(id));
    MDB_val v{};
    int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_SET_KEY);
    for (; rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT_DUP)) {
        out.emplace_back(to_view(v));
    }
    CABILDO_ASSERT(rc == 0 || rc == MDB_NOTFOUND, "lease_keys scan failed");
    return out;
}

std::optional<std::string> LeaseDb::key_with_prefix(MDB_txn* txn, std::uint64_t lease,
                                                    std::string_view prefix) const {
    if (prefix.empty()) return std::nullopt;
    codec::U64Key id = codec::u64_key(lease);
    Cursor cursor(txn, keys_dbi_);
    MDB_val k = to_val(codec::view(id));
    MDB_val v = to_val(prefix);
    // The first duplicate >= prefix: duplicates are sorted bytewise.
    const int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_GET_BOTH_RANGE);
    CABILDO_ASSERT(rc == 0 || rc == MDB_NOTFOUND, "lease_keys seek failed");
    if (rc != 0 || !to_view(v).starts_with(prefix)) return std::nullopt;
    return std::string(to_view(v));
}

std::vector<std::pair<std::uint64_t, LeaseRecord>> LeaseDb::list(MDB_txn* txn, std::uint64_t from,
                                                                 std::size_t limit,
                                                                 bool* more) const {
    std::vector<std::pair<std::uint64_t, LeaseRecord>> out;
    *more = false;
    codec::U64Key id = codec::u64_key(from);
    Cursor cursor(txn, leases_dbi_);
    MDB_val k = to_val(codec::view(id));
    MDB_val v{};
    int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT)) {
        if (out.size() == limit) {
            *more = true;
            return out;
        }
        out.emplace_back(codec::decode_u64(to_view(k)), codec::decode_lease(to_view(v)));
    }
    CABILDO_ASSERT(rc == MDB_NOTFOUND, "leases scan failed");
    return out;
}

std::uint64_t LeaseDb::last_id(MDB_txn* txn) const {
    Cursor cursor(txn, leases_dbi_);
    MDB_val k{}, v{};
    const int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) return 0;
    CABILDO_ASSERT(rc == 0, "leases last failed");
    return codec::decode_u64(to_view(k));
}

std::size_t LeaseDb::count(MDB_txn* txn) const {
    MDB_stat stat{};
    const int rc = mdb_stat(txn, leases_dbi_, &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat(leases) failed");
    return stat.ms_entries;
}

}  // namespace cabildo::storage
