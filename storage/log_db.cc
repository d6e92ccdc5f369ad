// LogDb: see log_db.h.
#include "storage/log_db.h"

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

LogDb::Bounds LogDb::bounds(MDB_txn* txn) const {
    MDB_stat stat{};
    int rc = mdb_stat(txn, dbi_, &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat(log) failed");
    Bounds bounds;
    if (stat.ms_entries == 0)
        return bounds;
    Cursor cursor(txn, dbi_);
    MDB_val key{}, val{};
    rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_FIRST);
    CABILDO_ASSERT(rc == 0, "cannot read the first log entry");
    bounds.first = codec::decode_u64(to_view(key));
    rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_LAST);
    CABILDO_ASSERT(rc == 0, "cannot read the last log entry");
    bounds.last = codec::decode_u64(to_view(key));
    bounds.last_term = codec::decode_entry_term(to_view(val));
    CABILDO_ASSERT(bounds.last - bounds.first + 1 == stat.ms_entries, "the stored log has a hole");
    return bounds;
}

std::optional<raft::Term> LogDb::term_at(MDB_txn* txn, raft::LogIndex index) const {
    codec::U64Key key_bytes = codec::u64_key(index);
    MDB_val key = to_val(codec::view(key_bytes));
    MDB_val val{};
    int rc = mdb_get(txn, dbi_, &key, &val);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(log) failed");
    return codec::decode_entry_term(to_view(val));
}

std::vector<raft::Entry> LogDb::entries(MDB_txn* txn, raft::LogIndex lo, raft::LogIndex hi,
                                        std::size_t bytes_max) const {
    std::vector<raft::Entry> out;
    if (lo >= hi)
        return out;
    Cursor cursor(txn, dbi_);
    codec::U64Key key_bytes = codec::u64_key(lo);
    MDB_val key = to_val(codec::view(key_bytes));
    MDB_val val{};
    int rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_SET_KEY);
    std::size_t bytes = 0;
    for (raft::LogIndex index = lo; index < hi; ++index) {
        CABILDO_ASSERT(rc == 0, "entries() past the stored log");
        CABILDO_ASSERT(codec::decode_u64(to_view(key)) == index, "the stored log has a hole");
        raft::Entry entry = codec::decode_entry(index, to_view(val));
        bytes += entry.data.size();
        // At least one entry, then only while the total stays within bytes_max.
        if (!out.empty() && bytes > bytes_max)
            break;
        out.push_back(std::move(entry));
        rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_NEXT);
    }
    return out;
}

int LogDb::replace_suffix(MDB_txn* txn, const std::vector<raft::Entry>& entries,
                          raft::LogIndex last, raft::LogIndex commit_index) {
    CABILDO_ASSERT(!entries.empty(), "replace_suffix without entries");
    int rc = delete_suffix(txn, entries, last, commit_index);
    if (rc != 0)
        return rc;
    return append(txn, entries);
}

int LogDb::delete_suffix(MDB_txn* txn, const std::vector<raft::Entry>& entries, raft::LogIndex last,
                         raft::LogIndex commit_index) {
    raft::LogIndex from = entries.front().index;
    Cursor cursor(txn, dbi_);
    for (raft::LogIndex index = from; index <= last; ++index) {
        codec::U64Key key_bytes = codec::u64_key(index);
        MDB_val key = to_val(codec::view(key_bytes));
        MDB_val val{};
        int rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_SET_KEY);
        CABILDO_ASSERT(rc == 0, "the stored log has a hole");
        if (index <= commit_index) {
            CABILDO_ASSERT(index - from < entries.size(), "truncating a committed entry");
            CABILDO_ASSERT(codec::decode_entry_term(to_view(val)) == entries[index - from].term,
                           "rewriting a committed entry with another term");
        }
        rc = mdb_cursor_del(cursor.raw(), 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int LogDb::append(MDB_txn* txn, const std::vector<raft::Entry>& entries) {
    Cursor cursor(txn, dbi_);
    for (const raft::Entry& entry : entries) {
        codec::U64Key key_bytes = codec::u64_key(entry.index);
        MDB_val key = to_val(codec::view(key_bytes));
        std::string value = codec::encode_entry(entry);
        MDB_val val = to_val(value);
        int rc = mdb_cursor_put(cursor.raw(), &key, &val, MDB_APPEND);
        CABILDO_ASSERT(rc != MDB_KEYEXIST, "log append out of order");
        if (rc != 0)
            return rc;
    }
    return 0;
}

}  // namespace cabildo::storage
