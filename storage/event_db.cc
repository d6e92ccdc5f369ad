// EventDb: see event_db.h.
#include "storage/event_db.h"

#include <algorithm>

#include <string>

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

int EventDb::add(MDB_txn* txn, raft::LogIndex index, std::uint32_t position, std::string_view key,
                 std::string_view event, const Bounds& bounds, std::uint64_t* bytes,
                 raft::LogIndex* evicted_through) {
    *evicted_through = 0;
    codec::EventKey index_bytes = codec::event_key(index, position);
    MDB_val k = to_val(codec::view(index_bytes));
    std::string value = codec::encode_event(key, event);
    MDB_val v = to_val(value);
    // MDB_APPEND: LMDB itself refuses a key that is not above the last one.
    int rc = mdb_put(txn, dbi_, &k, &v, MDB_APPEND);
    CABILDO_ASSERT(rc != MDB_KEYEXIST, "event index not above every earlier event's");
    if (rc != 0)
        return rc;
    *bytes += value.size();
    return evict_oldest(txn, bounds, bytes, evicted_through);
}

int EventDb::evict_oldest(MDB_txn* txn, const Bounds& bounds, std::uint64_t* bytes,
                          raft::LogIndex* evicted_through) {
    MDB_stat stat{};
    int rc = mdb_stat(txn, dbi_, &stat);  // counts this transaction's own writes
    CABILDO_ASSERT(rc == 0, "mdb_stat(events) failed");
    Cursor cursor(txn, dbi_);
    std::size_t count = stat.ms_entries;
    for (std::size_t evicted = 0; evicted < evictions_per_add_max && count > 1 &&
                                  (count > bounds.events_max || *bytes > bounds.bytes_max);
         ++evicted, --count) {
        MDB_val k{}, v{};
        rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_FIRST);
        CABILDO_ASSERT(rc == 0, "fewer events than mdb_stat counts");
        // The index is evicted whole once its last event goes; a partly
        // evicted index counts as evicted (watchers must re-read it).
        *evicted_through = codec::event_key_index(to_view(k));
        // A total that was never recorded (events kept before it was) is
        // treated as zero, not let go below it.
        *bytes -= std::min<std::uint64_t>(*bytes, v.mv_size);
        rc = mdb_cursor_del(cursor.raw(), 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void EventDb::scan(MDB_txn* txn, raft::LogIndex from, std::string_view prefix, const Limits& limits,
                   EventsResult* out) const {
    Cursor cursor(txn, dbi_);
    codec::U64Key from_bytes = codec::u64_key(from);
    MDB_val k = to_val(codec::view(from_bytes));
    MDB_val v{};
    int rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_SET_RANGE);
    std::size_t scanned = 0;
    std::size_t bytes = 0;
    std::size_t matched = 0;
    for (; rc == 0; rc = mdb_cursor_get(cursor.raw(), &k, &v, MDB_NEXT)) {
        raft::LogIndex index = codec::event_key_index(to_view(k));
        // Checked with the next event in hand: `more` means one exists.
        // Never inside an index: its remaining events come along.
        const bool same_index = scanned > 0 && index == out->scanned_through;
        if (!same_index && (scanned >= limits.scan_max || matched >= limits.limit)) {
            out->more = true;
            return;
        }
        codec::EventView event = codec::decode_event(to_view(v));
        if (event.key.starts_with(prefix)) {
            bytes += event.event.size();
            // Not examined: the continuation starts at this index again.
            if (!same_index && matched > 0 && bytes > limits.bytes_max) {
                out->more = true;
                return;
            }
            out->events.emplace_back(index, std::string(event.event));
            ++matched;
        }
        ++scanned;
        out->scanned_through = index;
    }
    CABILDO_ASSERT(rc == MDB_NOTFOUND, "events scan failed");
}

}  // namespace cabildo::storage
