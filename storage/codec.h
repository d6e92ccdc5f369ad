// codec: the fixed binary layouts storage/ writes into LMDB values and keys.
//
// All integers are big-endian, unsigned 64-bit but for the u16 key length in
// an event, so byte order (memcmp, LMDB's default key order) equals numeric
// order. This is not the wire format: storage/ does not use msgpack. The
// layouts are listed in storage.h. Decoders assert on malformed bytes, because
// only storage/ writes these values: a mismatch is corruption or a bug, not
// input to reject.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/raft/types.h"
#include "storage/records.h"

namespace cabildo::storage::codec {

constexpr std::size_t u64_bytes = 8;
constexpr std::size_t entry_header_bytes = u64_bytes + 1;  // term + type

using U64Key = std::array<char, u64_bytes>;
using AgeKey = std::array<char, 2 * u64_bytes>;

void put_u64(char* out, std::uint64_t value);
std::uint64_t get_u64(const char* in);
void append_u64(std::string& out, std::uint64_t value);

U64Key u64_key(std::uint64_t value);
inline std::string_view view(const U64Key& key) {
    return {key.data(), key.size()};
}
inline std::string_view view(const AgeKey& key) {
    return {key.data(), key.size()};
}
std::uint64_t decode_u64(std::string_view bytes);

// log value: [term][type u8][data]
std::string encode_entry(const raft::Entry& entry);
raft::Entry decode_entry(raft::LogIndex index, std::string_view bytes);
raft::Term decode_entry_term(std::string_view bytes);

// meta "hard_state": [term][voted_for][commit_index]
std::string encode_hard_state(const raft::HardState& hard_state);
raft::HardState decode_hard_state(std::string_view bytes);

// sessions value: [seq][index][reply]
std::string encode_session(std::uint64_t seq, raft::LogIndex index, std::string_view reply);
SessionRecord decode_session(std::string_view bytes);

// session_age key: [index][session id]
AgeKey age_key(raft::LogIndex index, std::uint64_t session_id);
std::uint64_t age_key_session(std::string_view bytes);

// kv value: [create_revision][mod_revision][version][lease][client value].
constexpr std::size_t kv_meta_bytes = 4 * u64_bytes;
struct KvView {
    KeyMeta meta;
    std::string_view value;  // points into the stored bytes
};
std::string encode_kv(const KeyMeta& meta, std::string_view value);
KvView decode_kv(std::string_view bytes);

// leases value: [ttl_ms][renewed][keys]
std::string encode_lease(const LeaseRecord& lease);
LeaseRecord decode_lease(std::string_view bytes);

// events key: [index][position u32], the position of the event among its
// entry's (a transaction or prefix delete makes several).
using EventKey = std::array<char, u64_bytes + 4>;
EventKey event_key(raft::LogIndex index, std::uint32_t position);
inline std::string_view view(const EventKey& key) {
    return {key.data(), key.size()};
}
raft::LogIndex event_key_index(std::string_view bytes);

// events value: [key_len u16][client key][event bytes]. The decoded views
// point into `bytes`.
constexpr std::size_t event_key_len_bytes = 2;
constexpr std::size_t event_key_bytes_max = 0xffff;
struct EventView {
    std::string_view key;
    std::string_view event;
};
std::string encode_event(std::string_view key, std::string_view event);
EventView decode_event(std::string_view bytes);

}  // namespace cabildo::storage::codec
