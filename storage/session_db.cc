// SessionDb: see session_db.h.
#include "storage/session_db.h"

#include <string>

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

int SessionDb::open(MDB_txn* txn) {
    int rc = open_dbi(txn, "sessions", &sessions_dbi_);
    if (rc != 0)
        return rc;
    return open_dbi(txn, "session_age", &age_dbi_);
}

std::optional<SessionRecord> SessionDb::get(MDB_txn* txn, std::uint64_t session_id) const {
    codec::U64Key key_bytes = codec::u64_key(session_id);
    MDB_val key = to_val(codec::view(key_bytes));
    MDB_val val{};
    int rc = mdb_get(txn, sessions_dbi_, &key, &val);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(sessions) failed");
    return codec::decode_session(to_view(val));
}

int SessionDb::set(MDB_txn* txn, std::uint64_t session_id, std::uint64_t seq, raft::LogIndex index,
                   std::string_view reply, std::size_t sessions_max) {
    std::optional<SessionRecord> old = get(txn, session_id);
    if (old) {
        codec::AgeKey old_age = codec::age_key(old->index, session_id);
        MDB_val key = to_val(codec::view(old_age));
        int rc = mdb_del(txn, age_dbi_, &key, nullptr);
        CABILDO_ASSERT(rc != MDB_NOTFOUND, "a session without its age key");
        if (rc != 0)
            return rc;
    }
    codec::U64Key id_bytes = codec::u64_key(session_id);
    MDB_val key = to_val(codec::view(id_bytes));
    std::string value = codec::encode_session(seq, index, reply);
    MDB_val val = to_val(value);
    int rc = mdb_put(txn, sessions_dbi_, &key, &val, 0);
    if (rc != 0)
        return rc;
    codec::AgeKey age = codec::age_key(index, session_id);
    MDB_val age_key = to_val(codec::view(age));
    MDB_val empty{0, nullptr};
    rc = mdb_put(txn, age_dbi_, &age_key, &empty, 0);
    if (rc != 0 || old)
        return rc;
    return evict_oldest(txn, sessions_max);
}

int SessionDb::evict_oldest(MDB_txn* txn, std::size_t sessions_max) {
    MDB_stat stat{};
    int rc = mdb_stat(txn, sessions_dbi_, &stat);
    CABILDO_ASSERT(rc == 0, "mdb_stat(sessions) failed");
    Cursor cursor(txn, age_dbi_);
    // Bounded: one session is added per call, so this runs at most once
    // unless sessions_max was lowered since the last open.
    for (std::size_t count = stat.ms_entries; count > sessions_max; --count) {
        MDB_val age{}, empty{};
        rc = mdb_cursor_get(cursor.raw(), &age, &empty, MDB_FIRST);
        CABILDO_ASSERT(rc == 0, "more sessions than age keys");
        codec::U64Key id_bytes = codec::u64_key(codec::age_key_session(to_view(age)));
        rc = mdb_cursor_del(cursor.raw(), 0);
        if (rc != 0)
            return rc;
        MDB_val key = to_val(codec::view(id_bytes));
        rc = mdb_del(txn, sessions_dbi_, &key, nullptr);
        CABILDO_ASSERT(rc != MDB_NOTFOUND, "an age key without its session");
        if (rc != 0)
            return rc;
    }
    return 0;
}

}  // namespace cabildo::storage
