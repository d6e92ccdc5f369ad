// MsgpackSkim and the skimmers (msgpack_skim.h). Format bytes as in the
// msgpack spec: fix types carry their size in the first byte, the others
// give it in 1, 2 or 4 big-endian bytes after it.
#include "client/bench/msgpack_skim.h"

namespace cabildo::client::bench {

bool MsgpackSkim::take(std::size_t n, const unsigned char*& start) {
    if (static_cast<std::size_t>(end_ - at_) < n) return false;
    start = at_;
    at_ += n;
    return true;
}

bool MsgpackSkim::read_be(std::size_t width, std::uint64_t& value) {
    const unsigned char* bytes = nullptr;
    if (!take(width, bytes)) return false;
    value = 0;
    for (std::size_t i = 0; i < width; ++i) value = (value << 8) | bytes[i];
    return true;
}

bool MsgpackSkim::read_map(std::uint32_t& size) {
    const unsigned char* first = nullptr;
    if (!take(1, first)) return false;
    std::uint64_t n = 0;
    if (*first >= 0x80 && *first <= 0x8f) {
        n = *first & 0x0f;
    } else if (*first == 0xde || *first == 0xdf) {
        if (!read_be(*first == 0xde ? 2 : 4, n)) return false;
    } else {
        return false;
    }
    size = static_cast<std::uint32_t>(n);
    return true;
}

bool MsgpackSkim::read_array(std::uint32_t& size) {
    const unsigned char* first = nullptr;
    if (!take(1, first)) return false;
    std::uint64_t n = 0;
    if (*first >= 0x90 && *first <= 0x9f) {
        n = *first & 0x0f;
    } else if (*first == 0xdc || *first == 0xdd) {
        if (!read_be(*first == 0xdc ? 2 : 4, n)) return false;
    } else {
        return false;
    }
    size = static_cast<std::uint32_t>(n);
    return true;
}

bool MsgpackSkim::read_bytes(std::string_view& bytes) {
    const unsigned char* first = nullptr;
    if (!take(1, first)) return false;
    std::uint64_t n = 0;
    if (*first >= 0xa0 && *first <= 0xbf) {
        n = *first & 0x1f;
    } else if (*first == 0xc4 || *first == 0xd9) {
        if (!read_be(1, n)) return false;
    } else if (*first == 0xc5 || *first == 0xda) {
        if (!read_be(2, n)) return false;
    } else if (*first == 0xc6 || *first == 0xdb) {
        if (!read_be(4, n)) return false;
    } else {
        return false;
    }
    const unsigned char* start = nullptr;
    if (!take(static_cast<std::size_t>(n), start)) return false;
    bytes = std::string_view(reinterpret_cast<const char*>(start), static_cast<std::size_t>(n));
    return true;
}

bool MsgpackSkim::read_uint(std::uint64_t& value) {
    const unsigned char* first = nullptr;
    if (!take(1, first)) return false;
    if (*first <= 0x7f) {
        value = *first;
        return true;
    }
    if (*first < 0xcc || *first > 0xcf) return false;
    return read_be(std::size_t{1} << (*first - 0xcc), value);
}

bool MsgpackSkim::read_bool(bool& value) {
    if (at_ == end_ || (*at_ != 0xc2 && *at_ != 0xc3)) return false;
    value = *at_++ == 0xc3;
    return true;
}

bool MsgpackSkim::read_nil() {
    if (at_ == end_ || *at_ != 0xc0) return false;
    ++at_;
    return true;
}

namespace {

// The bytes after the first of an object that has no nested objects (0 for
// fix types), or -1 for a map, an array or a byte that starts none.
int fixed_payload(unsigned char first) {
    if (first <= 0x7f || first >= 0xe0 || first == 0xc0 || first == 0xc2 || first == 0xc3)
        return 0;
    switch (first) {
    case 0xcc: case 0xd0: return 1;
    case 0xcd: case 0xd1: return 2;
    case 0xca: case 0xce: case 0xd2: return 4;
    case 0xcb: case 0xcf: case 0xd3: return 8;
    case 0xd4: return 2;
    case 0xd5: return 3;
    case 0xd6: return 5;
    case 0xd7: return 9;
    case 0xd8: return 17;
    default: return -1;
    }
}

// ext8/16/32: the width of the length field, or 0 when `first` is no ext.
std::size_t ext_length_width(unsigned char first) {
    return first == 0xc7 ? 1 : first == 0xc8 ? 2 : first == 0xc9 ? 4 : 0;
}

}  // namespace

bool MsgpackSkim::skip(int depth) {
    if (at_ == end_ || depth > skim_depth_max) return false;
    const unsigned char first = *at_;
    const unsigned char* start = nullptr;
    if (const int payload = fixed_payload(first); payload >= 0)
        return take(1 + static_cast<std::size_t>(payload), start);
    if (const std::size_t width = ext_length_width(first); width > 0) {
        std::uint64_t n = 0;
        ++at_;
        return read_be(width, n) && take(static_cast<std::size_t>(n) + 1, start);  // + type byte
    }
    std::string_view bytes;
    std::uint32_t n = 0;
    if ((first >= 0xa0 && first <= 0xbf) || (first >= 0xc4 && first <= 0xc6) ||
        (first >= 0xd9 && first <= 0xdb))
        return read_bytes(bytes);
    if ((first >= 0x90 && first <= 0x9f) || first == 0xdc || first == 0xdd) {
        if (!read_array(n)) return false;
        for (std::uint32_t i = 0; i < n; ++i)
            if (!skip(depth + 1)) return false;
        return true;
    }
    if (!read_map(n)) return false;  // the only kinds left are maps and bad bytes
    for (std::uint32_t i = 0; i < 2 * n; ++i)
        if (!skip(depth + 1)) return false;
    return true;
}

std::optional<SkimmedEvent> skim_event(MsgpackSkim& skim) {
    std::uint32_t fields = 0;
    if (!skim.read_map(fields)) return std::nullopt;
    SkimmedEvent event;
    bool has_revision = false;
    for (std::uint32_t i = 0; i < fields; ++i) {
        std::string_view name;
        if (!skim.read_bytes(name)) return std::nullopt;
        bool ok = true;
        if (name == "revision") {
            ok = has_revision = skim.read_uint(event.revision);
        } else if (name == "value") {
            ok = skim.read_nil() || skim.read_bytes(event.value);
        } else {
            ok = skim.skip();
        }
        if (!ok) return std::nullopt;
    }
    if (!has_revision) return std::nullopt;
    return event;
}

std::optional<SkimmedEvent> skim_event(const void* data, std::size_t size) {
    MsgpackSkim skim(data, size);
    return skim_event(skim);
}

std::optional<std::uint64_t> skim_applied_index(const void* data, std::size_t size) {
    MsgpackSkim skim(data, size);
    std::uint32_t fields = 0;
    if (!skim.read_map(fields)) return std::nullopt;
    for (std::uint32_t i = 0; i < fields; ++i) {
        std::string_view name;
        if (!skim.read_bytes(name)) return std::nullopt;
        if (name != "applied_index") {
            if (!skim.skip()) return std::nullopt;
            continue;
        }
        std::uint64_t applied = 0;
        if (!skim.read_uint(applied)) return std::nullopt;
        return applied;
    }
    return std::nullopt;
}

namespace {

bool skim_events(MsgpackSkim& skim, std::vector<SkimmedEvent>& events) {
    std::uint32_t count = 0;
    if (!skim.read_array(count)) return false;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::optional<SkimmedEvent> event = skim_event(skim);
        if (!event) return false;
        events.push_back(*event);
    }
    return true;
}

bool skim_reply_field(std::string_view name, MsgpackSkim& skim, SkimmedWatchReply& reply,
                      bool& has_id) {
    if (name == "ok") return skim.read_bool(reply.ok);
    if (name == "id") return has_id = skim.read_uint(reply.id);
    if (name == "revision") return skim.read_uint(reply.revision);
    if (name == "more") return skim.read_bool(reply.more);
    if (name == "error") return skim.read_bytes(reply.error);
    if (name == "events") return skim_events(skim, reply.events);
    return skim.skip();
}

}  // namespace

bool skim_watch_reply(const void* data, std::size_t size, SkimmedWatchReply& reply) {
    reply.ok = false;
    reply.error = {};
    reply.revision = 0;
    reply.more = false;
    reply.events.clear();
    MsgpackSkim skim(data, size);
    std::uint32_t fields = 0;
    if (!skim.read_map(fields)) return false;
    bool has_id = false;
    for (std::uint32_t i = 0; i < fields; ++i) {
        std::string_view name;
        if (!skim.read_bytes(name) || !skim_reply_field(name, skim, reply, has_id)) return false;
    }
    return has_id;
}

std::optional<std::int64_t> leading_number(std::string_view value) {
    // 18 digits always fit an int64; a 19th would be no steady-clock time of ours.
    constexpr std::size_t digits_max = 18;
    std::int64_t number = 0;
    std::size_t digits = 0;
    for (; digits < value.size(); ++digits) {
        const char c = value[digits];
        if (c < '0' || c > '9') break;
        if (digits == digits_max) return std::nullopt;
        number = number * 10 + (c - '0');
    }
    if (digits == 0) return std::nullopt;
    return number;
}

}  // namespace cabildo::client::bench
