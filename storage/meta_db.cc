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
constexpr std::string_view events_bytes_key = "events_bytes";
constexpr std::string_view applied_term_key = "applied_term";
constexpr std::string_view membership_key = "membership";

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

std::uint64_t read_u64(MDB_txn* txn, MDB_dbi dbi, std::string_view name,
                       std::uint64_t absent) {
    auto bytes = read(txn, dbi, name);
    return bytes ? codec::decode_u64(*bytes) : absent;
}

int write_u64(MDB_txn* txn, MDB_dbi dbi, std::string_view name, std::uint64_t value) {
    codec::U64Key bytes = codec::u64_key(value);
    return write(txn, dbi, name, codec::view(bytes));
}

}  // namespace

raft::HardState MetaDb::hard_state(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, hard_state_key);
    return bytes ? codec::decode_hard_state(*bytes) : raft::HardState{};
}

raft::LogIndex MetaDb::applied(MDB_txn* txn) const {
    return read_u64(txn, dbi_, applied_key, 0);
}

int MetaDb::set_hard_state(MDB_txn* txn, const raft::HardState& hard_state) {
    return write(txn, dbi_, hard_state_key, codec::encode_hard_state(hard_state));
}

int MetaDb::set_applied(MDB_txn* txn, raft::LogIndex index) {
    return write_u64(txn, dbi_, applied_key, index);
}

raft::LogIndex MetaDb::events_compacted(MDB_txn* txn) const {
    return read_u64(txn, dbi_, events_compacted_key, 0);
}

int MetaDb::set_events_compacted(MDB_txn* txn, raft::LogIndex index) {
    return write_u64(txn, dbi_, events_compacted_key, index);
}

std::uint64_t MetaDb::kv_hash(MDB_txn* txn) const {
    return read_u64(txn, dbi_, kv_hash_key, 0);
}

int MetaDb::set_kv_hash(MDB_txn* txn, std::uint64_t hash) {
    return write_u64(txn, dbi_, kv_hash_key, hash);
}

std::uint64_t MetaDb::events_bytes(MDB_txn* txn) const {
    return read_u64(txn, dbi_, events_bytes_key, 0);
}

int MetaDb::set_events_bytes(MDB_txn* txn, std::uint64_t bytes) {
    return write_u64(txn, dbi_, events_bytes_key, bytes);
}

std::uint64_t MetaDb::format(MDB_txn* txn) const {
    return read_u64(txn, dbi_, format_key, 1);
}

int MetaDb::set_format(MDB_txn* txn, std::uint64_t format) {
    return write_u64(txn, dbi_, format_key, format);
}

std::optional<raft::Membership> MetaDb::membership(MDB_txn* txn) const {
    auto bytes = read(txn, dbi_, membership_key);
    if (!bytes) return std::nullopt;
    auto membership = raft::decode_membership(*bytes);
    CABILDO_ASSERT(membership.has_value(), "meta: undecodable membership");
    return membership;
}

int MetaDb::set_membership(MDB_txn* txn, const raft::Membership& membership) {
    return write(txn, dbi_, membership_key, raft::encode_membership(membership));
}

raft::Term MetaDb::applied_term(MDB_txn* txn) const {
    return read_u64(txn, dbi_, applied_term_key, 0);
}

int MetaDb::set_applied_term(MDB_txn* txn, raft::Term term) {
    return write_u64(txn, dbi_, applied_term_key, term);
}

}  // namespace cabildo::storage
