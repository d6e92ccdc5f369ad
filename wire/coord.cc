// The coordination keys' layout (coord.h).
#include "wire/coord.h"

#include <msgpack.hpp>

#include "wire/decode_util.h"
#include "wire/protocol.h"

namespace cabildo::wire {

namespace {

constexpr std::string_view lock_prefix = "_cabildo/lock/";
constexpr std::string_view elect_prefix = "_cabildo/elect/";
constexpr std::string_view queue_prefix = "_cabildo/queue/";
constexpr std::size_t hex_digits = 16;

std::string hex16(std::uint64_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(hex_digits, '0');
    for (std::size_t i = hex_digits; i-- > 0; n >>= 4) out[i] = digits[n & 0xf];
    return out;
}

std::optional<std::uint64_t> parse_hex16(std::string_view s) {
    if (s.size() != hex_digits) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return std::nullopt;
        n = (n << 4) | static_cast<std::uint64_t>(d);
    }
    return n;
}

}  // namespace

bool is_coord_key(std::string_view key) { return key.starts_with(coord_prefix); }

bool covers_coord_keys(std::string_view prefix) {
    return coord_prefix.starts_with(prefix) || prefix.starts_with(coord_prefix);
}

std::string mutex_base(MutexKind kind, std::string_view name) {
    return std::string(kind == MutexKind::lock ? lock_prefix : elect_prefix) + std::string(name);
}

std::string waiter_prefix(std::string_view base) { return std::string(base) + '\0'; }

std::string waiter_key(std::string_view base, std::uint64_t joined) {
    return waiter_prefix(base) + hex16(joined);
}

std::optional<MutexKind> mutex_kind(std::string_view key) {
    if (key.starts_with(lock_prefix)) return MutexKind::lock;
    if (key.starts_with(elect_prefix)) return MutexKind::election;
    return std::nullopt;
}

std::optional<std::string> waiter_base(std::string_view key) {
    if (!mutex_kind(key) || key.size() < hex_digits + 1) return std::nullopt;
    const std::size_t nul = key.size() - hex_digits - 1;
    if (key[nul] != '\0' || !parse_hex16(key.substr(nul + 1))) return std::nullopt;
    return std::string(key.substr(0, nul));
}

std::string queue_base(std::string_view name) { return std::string(queue_prefix) + std::string(name); }

std::string ready_prefix(std::string_view base) { return std::string(base) + std::string("\0r", 2); }

std::string ready_key(std::string_view base, std::uint64_t item) {
    return ready_prefix(base) + hex16(item);
}

std::string in_flight_key(std::string_view base, std::uint64_t item) {
    return std::string(base) + std::string("\0f", 2) + hex16(item);
}

std::optional<InFlightKey> parse_in_flight_key(std::string_view key) {
    if (!key.starts_with(queue_prefix) || key.size() < hex_digits + 2) return std::nullopt;
    const std::size_t tag = key.size() - hex_digits - 2;
    if (key[tag] != '\0' || key[tag + 1] != 'f') return std::nullopt;
    const std::optional<std::uint64_t> item = parse_hex16(key.substr(tag + 2));
    if (!item) return std::nullopt;
    return InFlightKey{std::string(key.substr(0, tag)), *item};
}

std::uint64_t item_of(std::string_view key) {
    if (key.size() < hex_digits) return 0;
    return parse_hex16(key.substr(key.size() - hex_digits)).value_or(0);
}

std::string encode_queue_meta(const QueueMeta& meta) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(4);
    packer.pack_uint64(meta.next_item);
    packer.pack_uint64(meta.items);
    packer.pack_uint64(meta.bytes);
    packer.pack_uint64(meta.in_flight);
    return detail::to_string(buffer);
}

QueueMeta decode_queue_meta(std::string_view bytes) {
    QueueMeta meta;
    try {
        const msgpack::object_handle handle = msgpack::unpack(bytes.data(), bytes.size());
        const msgpack::object& o = handle.get();
        if (o.type != msgpack::type::ARRAY || o.via.array.size < 4) return meta;
        meta.next_item = o.via.array.ptr[0].as<std::uint64_t>();
        meta.items = o.via.array.ptr[1].as<std::uint64_t>();
        meta.bytes = o.via.array.ptr[2].as<std::uint64_t>();
        meta.in_flight = o.via.array.ptr[3].as<std::uint64_t>();
    } catch (const std::exception&) {
        return QueueMeta{};
    }
    return meta;
}

std::string queue_topic(std::string_view queue) { return "q/" + std::string(queue); }

std::string encode_queue_notice(std::string_view queue, std::uint64_t item,
                                std::uint64_t revision) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(3);
    detail::pack_str(packer, "queue");
    detail::pack_bin(packer, queue);
    detail::pack_str(packer, "item");
    packer.pack_uint64(item);
    detail::pack_str(packer, "revision");
    packer.pack_uint64(revision);
    return detail::to_string(buffer);
}

std::optional<std::string> check_coord_name(std::string_view name) {
    if (name.empty()) return "empty";
    if (name.size() > coord_name_bytes_max) {
        return std::to_string(name.size()) + " bytes, the limit is " +
               std::to_string(coord_name_bytes_max);
    }
    if (name.find('\0') != std::string_view::npos) return "contains a NUL byte";
    return std::nullopt;
}

}  // namespace cabildo::wire
