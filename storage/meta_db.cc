// MetaDb: see meta_db.h.
#include "storage/meta_db.h"

#include <optional>
#include <string_view>

#include "node/raft/assert.h"
#include "storage/codec.h"

namespace cabildo::storage {

namespace {

constexpr std::string_view hard_state_key = "hard_state";
constexpr std::string_view applied_key = "applied";
constexpr std::string_view events_compacted_key = "events_compacted";
constexpr std::string_view kv_hash_key = "kv_hash";
constexpr std::string_view format_key = "format";

std::optional<std::string_view> read(MDB_txn* txn, MDB_dbi dbi, std::string_view name) {
    MDB_val key = to_val(name);
    MDB_val val{};
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return std::nullopt;
    CABILDO_ASSERT(rc == 0, "mdb_get(meta) failed");
    return to_view(val);
}

int write(MDB_txn* txn, MDB_dbi dbi, std::string_view name, std::string_view bytes) {
    MDB_val key = to_val(name);
    MDB_val val = to_val(bytes);
    return mdb_put(txn, dbi, &key, &val, 0);
}

}  // namespace

raft::HardState MetaDb::hard_state(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, hard_state_key);
    return bytes ? codec::decode_hard_state(*bytes) : raft::HardState{};
}

raft::LogIndex MetaDb::applied(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, applied_key);
    return bytes ? codec::decode_u64(*bytes) : 0;
}

int MetaDb::set_hard_state(MDB_txn* txn, const raft::HardState& hard_state) {
    return write(txn, dbi_, hard_state_key, codec::encode_hard_state(hard_state));
}

int MetaDb::set_applied(MDB_txn* txn, raft::LogIndex index) {
    codec::U64Key bytes = codec::u64_key(index);
    return write(txn, dbi_, applied_key, codec::view(bytes));
}

raft::LogIndex MetaDb::events_compacted(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, events_compacted_key);
    return bytes ? codec::decode_u64(*bytes) : 0;
}

int MetaDb::set_events_compacted(MDB_txn* txn, raft::LogIndex index) {
    codec::U64Key bytes = codec::u64_key(index);
    return write(txn, dbi_, events_compacted_key, codec::view(bytes));
}

std::uint64_t MetaDb::kv_hash(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, kv_hash_key);
    return bytes ? codec::decode_u64(*bytes) : 0;
}

int MetaDb::set_kv_hash(MDB_txn* txn, std::uint64_t hash) {
    codec::U64Key bytes = codec::u64_key(hash);
    return write(txn, dbi_, kv_hash_key, codec::view(bytes));
}

std::uint64_t MetaDb::format(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, format_key);
    return bytes ? codec::decode_u64(*bytes) : 1;
}

int MetaDb::set_format(MDB_txn* txn, std::uint64_t format) {
    codec::U64Key bytes = codec::u64_key(format);
    return write(txn, dbi_, format_key, codec::view(bytes));
}

}  // namespace cabildo::storage
