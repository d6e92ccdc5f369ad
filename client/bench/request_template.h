// RequestTemplate: one encoded client request whose key digits and `id` are
// rewritten in place, so the hot loop of the benchmark sends the next request
// without encoding (or allocating) anything.
//
// The request is encoded once through wire::encode_request(). Its key must
// end in `digits` decimal digits that appear nowhere else in the frame (the
// benchmark's values are lowercase letters only, so they cannot), and its id,
// when wanted, is a msgpack uint64 (0xcf + 8 bytes big-endian) whose bytes
// are patched too. Not thread-safe: each client owns its own copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/client_messages.h"

namespace cabildo::client::bench {

class RequestTemplate {
public:
    RequestTemplate() = default;
    // Precondition: request.key ends with `digits` '0' characters and occurs
    // once in the encoding; request.id is empty (with_id adds it).
    RequestTemplate(wire::ClientRequest request, std::size_t digits, bool with_id);

    // Writes `number` as the key's zero-padded digits (mod 10^digits).
    void set_key_number(std::uint64_t number);
    // Precondition: built with_id.
    void set_id(std::uint64_t id);

    std::string_view frame() const { return frame_; }

private:
    std::string frame_;
    std::size_t key_digits_at_ = 0;
    std::size_t key_digits_ = 0;
    std::size_t id_at_ = std::string::npos;  // the 8 bytes after 0xcf
};

// "key-000042"-style names: prefix + `digits` zero-padded digits of number.
std::string numbered_key(std::string_view prefix, std::uint64_t number, std::size_t digits);

// `id` as a msgpack uint64 (0xcf and 8 bytes big-endian), the request `id`
// the benchmark's drivers send.
std::string msgpack_uint64(std::uint64_t id);

// The value of a msgpack unsigned integer (any width) in `bytes`, as an echoed
// reply `id` holds it; nullopt-like false when it is not one.
bool read_msgpack_uint(std::string_view bytes, std::uint64_t& value);

// The steady clock in nanoseconds: the bench's one time base.
inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// splitmix64: a fast per-client generator; the quality is ample for key choice.
inline std::uint64_t next_random(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace cabildo::client::bench
