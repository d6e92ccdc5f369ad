// Internal to wire/: the one place that calls msgpack::unpack, and typed,
// checked reads of the objects it returns.
//
// Not part of the public API: only wire/*.cc include this header (it pulls in
// <msgpack.hpp>). unpack_frame() bounds every size, rejects trailing bytes and
// turns every exception into an Error. FieldReader checks each field's type
// and length and records the first problem as an Error naming the field, so a
// decoder reads all fields straight through and checks ok() once at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/raft/result.h"

namespace cabildo::wire::detail {

// Bounds handed to msgpack's unpack_limit, plus the frame size itself.
struct UnpackLimits {
    std::size_t frame_bytes_max = 0;
    std::size_t array_size_max = 0;
    std::size_t map_size_max = 0;
    std::size_t str_bytes_max = 0;
    std::size_t bin_bytes_max = 0;
    std::size_t depth_max = 0;
};

// Unpacks exactly one msgpack object filling [data, data+size). Never throws.
// Over a limit: too_large; malformed, truncated, trailing bytes: bad_request.
// `what` names the frame in error details ("raft message", "request").
// The returned handle owns every str/bin byte, so `data` may die first.
Result<msgpack::object_handle> unpack_frame(const void* data, std::size_t size,
                                            const UnpackLimits& limits, std::string_view what);

// A human name for an object's type, for error details.
const char* type_name(const msgpack::object& object);

// Reads fields with type checks. After the first failure every read returns
// a default and the first error is kept. Never throws.
class FieldReader {
public:
    std::uint64_t read_uint(const msgpack::object& object, std::string_view field);
    bool read_bool(const msgpack::object& object, std::string_view field);
    // BIN or STR, at most bytes_max bytes (too_large beyond).
    std::string read_bytes(const msgpack::object& object, std::string_view field,
                           std::size_t bytes_max);
    // BIN only (peer and storage formats are strict).
    std::string read_bin(const msgpack::object& object, std::string_view field,
                         std::size_t bytes_max);
    // nil, or BIN/STR as read_bytes.
    std::optional<std::string> read_optional_bytes(const msgpack::object& object,
                                                   std::string_view field, std::size_t bytes_max);
    // An array of at least size_min elements (extra trailing elements are the
    // room later versions append fields in).
    std::span<const msgpack::object> read_array(const msgpack::object& object,
                                                std::string_view field, std::size_t size_min);
    std::span<const msgpack::object_kv> read_map(const msgpack::object& object,
                                                 std::string_view field);

    // Records an error unless one is already recorded.
    void fail(Status status, std::string detail);
    bool ok() const { return !error_.has_value(); }
    // Precondition: !ok().
    const Error& error() const;

private:
    bool expect(const msgpack::object& object, msgpack::type::object_type type,
                std::string_view field, const char* expected);

    std::optional<Error> error_;
};

// Packs a full message into a std::string (the frame sent on a socket).
inline std::string to_string(const msgpack::sbuffer& buffer) {
    return std::string(buffer.data(), buffer.size());
}

void pack_bin(msgpack::packer<msgpack::sbuffer>& packer, std::string_view bytes);
void pack_str(msgpack::packer<msgpack::sbuffer>& packer, std::string_view text);

// Builds a msgpack map whose size is known only at the end: key() packs a
// key and returns the packer for its value, finish() prepends the header.
class MapWriter {
public:
    MapWriter() : packer_(body_) {}
    MapWriter(const MapWriter&) = delete;
    MapWriter& operator=(const MapWriter&) = delete;

    msgpack::packer<msgpack::sbuffer>& key(std::string_view name);
    // Appends one already encoded msgpack object as the current key's value.
    void raw(std::string_view encoded) { body_.write(encoded.data(), encoded.size()); }
    std::string finish() const;

private:
    msgpack::sbuffer body_;  // declared before packer_, which refers to it
    msgpack::packer<msgpack::sbuffer> packer_;
    std::uint32_t size_ = 0;
};

void pack_bool(msgpack::packer<msgpack::sbuffer>& packer, bool value);
void pack_optional_bin(msgpack::packer<msgpack::sbuffer>& packer,
                       const std::optional<std::string>& bytes);

// The msgpack encoding of an object (used to keep a client's `id` verbatim).
std::string encode_object(const msgpack::object& object);

// Runs decode (a callable returning Result<T>) and turns any exception that
// escapes it (bad_alloc) into an error, so decoders never throw out of wire/.
template <typename Decode>
auto guard_decode(Decode&& decode, std::string_view what) -> decltype(decode()) {
    try {
        return decode();
    } catch (const std::exception& e) {
        return Error{Status::bad_request, std::string(what) + ": " + e.what()};
    }
}

// Reads a top-level array that opens with protocol_version.
// On success returns the elements after the version tag.
std::span<const msgpack::object> read_versioned_array(FieldReader& reader,
                                                      const msgpack::object& object,
                                                      std::string_view what,
                                                      std::size_t fields_min);

}  // namespace cabildo::wire::detail
