// RequestTemplate (request_template.h): find the placeholders once, then
// patch bytes.
#include "client/bench/request_template.h"

#include <utility>

#include "node/raft/assert.h"

namespace cabildo::client::bench {
namespace {

// A placeholder id nobody would send: found in the encoding, then patched.
constexpr std::string_view id_marker = "\xcf\xde\xad\xbe\xef\xfe\xed\xfa\xce";

std::size_t find_once(const std::string& haystack, std::string_view needle) {
    const std::size_t at = haystack.find(needle);
    CABILDO_ASSERT(at != std::string::npos, "request template: placeholder missing");
    CABILDO_ASSERT(haystack.find(needle, at + 1) == std::string::npos,
                   "request template: placeholder not unique");
    return at;
}

}  // namespace

RequestTemplate::RequestTemplate(wire::ClientRequest request, std::size_t digits, bool with_id)
    : key_digits_(digits) {
    CABILDO_ASSERT(request.key.size() >= digits, "request template: key shorter than its digits");
    CABILDO_ASSERT(request.id.empty(), "request template: id set by the caller");
    if (with_id) request.id = std::string(id_marker);
    frame_ = wire::encode_request(request);
    key_digits_at_ = find_once(frame_, request.key) + request.key.size() - digits;
    if (with_id) id_at_ = find_once(frame_, id_marker) + 1;
}

void RequestTemplate::set_key_number(std::uint64_t number) {
    for (std::size_t i = key_digits_; i > 0; --i) {
        frame_[key_digits_at_ + i - 1] = static_cast<char>('0' + number % 10);
        number /= 10;
    }
}

void RequestTemplate::set_id(std::uint64_t id) {
    CABILDO_ASSERT(id_at_ != std::string::npos, "request template: no id");
    for (int i = 7; i >= 0; --i) {
        frame_[id_at_ + static_cast<std::size_t>(i)] = static_cast<char>(id & 0xff);
        id >>= 8;
    }
}

std::string numbered_key(std::string_view prefix, std::uint64_t number, std::size_t digits) {
    std::string key(prefix);
    key.append(digits, '0');
    for (std::size_t i = key.size(); i > prefix.size(); --i) {
        key[i - 1] = static_cast<char>('0' + number % 10);
        number /= 10;
    }
    return key;
}

std::string msgpack_uint64(std::uint64_t id) {
    std::string bytes(9, '\xcf');
    for (std::size_t i = 1; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>((id >> (64 - 8 * i)) & 0xff);
    return bytes;
}

bool read_msgpack_uint(std::string_view bytes, std::uint64_t& value) {
    if (bytes.empty()) return false;
    const auto first = static_cast<unsigned char>(bytes[0]);
    if (first <= 0x7f) {
        value = first;
        return bytes.size() == 1;
    }
    std::size_t width = 0;
    switch (first) {
    case 0xcc: width = 1; break;
    case 0xcd: width = 2; break;
    case 0xce: width = 4; break;
    case 0xcf: width = 8; break;
    default: return false;
    }
    if (bytes.size() != 1 + width) return false;
    value = 0;
    for (std::size_t i = 1; i <= width; ++i)
        value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    return true;
}

}  // namespace cabildo::client::bench
