// codec: see codec.h.
#include "storage/codec.h"

#include "node/raft/assert.h"

namespace cabildo::storage::codec {

void put_u64(char* out, std::uint64_t value) {
    for (std::size_t i = 0; i < u64_bytes; ++i) {
        out[i] = static_cast<char>((value >> (8 * (u64_bytes - 1 - i))) & 0xff);
    }
}

std::uint64_t get_u64(const char* in) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < u64_bytes; ++i) {
        value = (value << 8) | static_cast<unsigned char>(in[i]);
    }
    return value;
}

void append_u64(std::string& out, std::uint64_t value) {
    char bytes[u64_bytes];
    put_u64(bytes, value);
    out.append(bytes, u64_bytes);
}

U64Key u64_key(std::uint64_t value) {
    U64Key key;
    put_u64(key.data(), value);
    return key;
}

std::uint64_t decode_u64(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() == u64_bytes, "stored u64 has the wrong size");
    return get_u64(bytes.data());
}

std::string encode_entry(const raft::Entry& entry) {
    std::string out;
    out.reserve(entry_header_bytes + entry.data.size());
    append_u64(out, entry.term);
    out.push_back(static_cast<char>(entry.type));
    out += entry.data;
    return out;
}

raft::Entry decode_entry(raft::LogIndex index, std::string_view bytes) {
    raft::Entry entry;
    entry.term = decode_entry_term(bytes);
    entry.index = index;
    auto type = static_cast<std::uint8_t>(bytes[u64_bytes]);
    CABILDO_ASSERT(type <= raft::entry_type_max,
                   "stored entry has an unknown type");
    entry.type = static_cast<raft::EntryType>(type);
    entry.data.assign(bytes.substr(entry_header_bytes));
    return entry;
}

raft::Term decode_entry_term(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() >= entry_header_bytes, "stored entry is truncated");
    return get_u64(bytes.data());
}

std::string encode_hard_state(const raft::HardState& hard_state) {
    std::string out;
    append_u64(out, hard_state.term);
    append_u64(out, hard_state.voted_for);
    append_u64(out, hard_state.commit_index);
    return out;
}

raft::HardState decode_hard_state(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() == 3 * u64_bytes, "stored hard state has the wrong size");
    raft::HardState hard_state;
    hard_state.term = get_u64(bytes.data());
    hard_state.voted_for = get_u64(bytes.data() + u64_bytes);
    hard_state.commit_index = get_u64(bytes.data() + 2 * u64_bytes);
    return hard_state;
}

std::string encode_session(std::uint64_t seq, raft::LogIndex index, std::string_view reply) {
    std::string out;
    out.reserve(2 * u64_bytes + reply.size());
    append_u64(out, seq);
    append_u64(out, index);
    out += reply;
    return out;
}

SessionRecord decode_session(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() >= 2 * u64_bytes, "stored session is truncated");
    SessionRecord record;
    record.seq = get_u64(bytes.data());
    record.index = get_u64(bytes.data() + u64_bytes);
    record.reply.assign(bytes.substr(2 * u64_bytes));
    return record;
}

AgeKey age_key(raft::LogIndex index, std::uint64_t session_id) {
    AgeKey key;
    put_u64(key.data(), index);
    put_u64(key.data() + u64_bytes, session_id);
    return key;
}

std::uint64_t age_key_session(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() == 2 * u64_bytes, "stored session age key has the wrong size");
    return get_u64(bytes.data() + u64_bytes);
}

std::string encode_kv(const KeyMeta& meta, std::string_view value) {
    std::string out;
    out.reserve(kv_meta_bytes + value.size());
    append_u64(out, meta.create_revision);
    append_u64(out, meta.mod_revision);
    append_u64(out, meta.version);
    append_u64(out, meta.lease);
    out += value;
    return out;
}

KvView decode_kv(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() >= kv_meta_bytes, "stored kv value is truncated");
    KvView view;
    view.meta.create_revision = get_u64(bytes.data());
    view.meta.mod_revision = get_u64(bytes.data() + u64_bytes);
    view.meta.version = get_u64(bytes.data() + 2 * u64_bytes);
    view.meta.lease = get_u64(bytes.data() + 3 * u64_bytes);
    view.value = bytes.substr(kv_meta_bytes);
    return view;
}

std::string encode_lease(const LeaseRecord& lease) {
    std::string out;
    append_u64(out, lease.ttl_ms);
    append_u64(out, lease.renewed);
    append_u64(out, lease.keys);
    return out;
}

LeaseRecord decode_lease(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() == 3 * u64_bytes, "stored lease has the wrong size");
    return LeaseRecord{get_u64(bytes.data()), get_u64(bytes.data() + u64_bytes),
                       get_u64(bytes.data() + 2 * u64_bytes)};
}

EventKey event_key(raft::LogIndex index, std::uint32_t position) {
    EventKey key;
    put_u64(key.data(), index);
    for (int i = 0; i < 4; ++i) {
        key[u64_bytes + i] = static_cast<char>((position >> (8 * (3 - i))) & 0xff);
    }
    return key;
}

raft::LogIndex event_key_index(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() == u64_bytes + 4, "stored event key has the wrong size");
    return get_u64(bytes.data());
}

std::string encode_event(std::string_view key, std::string_view event) {
    CABILDO_ASSERT(key.size() <= event_key_bytes_max, "event key too long for its u16 length");
    std::string out;
    out.reserve(event_key_len_bytes + key.size() + event.size());
    out.push_back(static_cast<char>((key.size() >> 8) & 0xff));
    out.push_back(static_cast<char>(key.size() & 0xff));
    out += key;
    out += event;
    return out;
}

EventView decode_event(std::string_view bytes) {
    CABILDO_ASSERT(bytes.size() >= event_key_len_bytes, "stored event is truncated");
    std::size_t key_len = (std::size_t{static_cast<unsigned char>(bytes[0])} << 8) |
                          static_cast<unsigned char>(bytes[1]);
    CABILDO_ASSERT(bytes.size() - event_key_len_bytes >= key_len, "stored event key is truncated");
    return EventView{bytes.substr(event_key_len_bytes, key_len),
                     bytes.substr(event_key_len_bytes + key_len)};
}

}  // namespace cabildo::storage::codec
