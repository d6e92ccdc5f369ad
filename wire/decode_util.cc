// Internal to wire/: unpack_frame() and FieldReader (see decode_util.h).
//
// Everything that can throw inside msgpack-c is called from unpack_frame()'s
// try block. FieldReader only inspects msgpack::object unions after checking
// their type tag, so it cannot throw.
#include "wire/decode_util.h"

#include <exception>

#include "wire/protocol.h"

namespace cabildo::wire::detail {

namespace {

std::string sizes_detail(std::string_view what, std::size_t size, std::size_t size_max) {
    return std::string(what) + ": " + std::to_string(size) + " bytes, the limit is " +
           std::to_string(size_max);
}

}  // namespace

Result<msgpack::object_handle> unpack_frame(const void* data, std::size_t size,
                                            const UnpackLimits& limits, std::string_view what) {
    if (size > limits.frame_bytes_max) {
        return Error{Status::too_large, sizes_detail(what, size, limits.frame_bytes_max)};
    }
    if (size == 0 || data == nullptr) {
        return Error{Status::bad_request, std::string(what) + ": empty frame"};
    }
    const msgpack::unpack_limit limit(limits.array_size_max, limits.map_size_max,
                                      limits.str_bytes_max, limits.bin_bytes_max,
                                      /*ext=*/0, limits.depth_max);
    try {
        std::size_t offset = 0;
        msgpack::object_handle handle =
            msgpack::unpack(static_cast<const char*>(data), size, offset, nullptr, nullptr, limit);
        if (offset != size) {
            return Error{Status::bad_request, std::string(what) + ": " +
                                                  std::to_string(size - offset) +
                                                  " trailing bytes after the object"};
        }
        return handle;
    } catch (const msgpack::depth_size_overflow&) {
        return Error{Status::bad_request, std::string(what) + ": nested too deeply"};
    } catch (const msgpack::size_overflow& e) {
        return Error{Status::too_large, std::string(what) + ": " + e.what()};
    } catch (const msgpack::insufficient_bytes&) {
        return Error{Status::bad_request, std::string(what) + ": truncated"};
    } catch (const std::exception& e) {
        return Error{Status::bad_request, std::string(what) + ": malformed msgpack: " + e.what()};
    }
}

const char* type_name(const msgpack::object& object) {
    switch (object.type) {
        case msgpack::type::NIL: return "nil";
        case msgpack::type::BOOLEAN: return "bool";
        case msgpack::type::POSITIVE_INTEGER: return "uint";
        case msgpack::type::NEGATIVE_INTEGER: return "negative int";
        case msgpack::type::FLOAT32: return "float";
        case msgpack::type::FLOAT64: return "float";
        case msgpack::type::STR: return "str";
        case msgpack::type::BIN: return "bin";
        case msgpack::type::ARRAY: return "array";
        case msgpack::type::MAP: return "map";
        case msgpack::type::EXT: return "ext";
    }
    return "unknown";
}

bool FieldReader::expect(const msgpack::object& object, msgpack::type::object_type type,
                         std::string_view field, const char* expected) {
    if (!ok())
        return false;
    if (object.type == type)
        return true;
    fail(Status::bad_request,
         std::string(field) + ": expected " + expected + ", got " + type_name(object));
    return false;
}

std::uint64_t FieldReader::read_uint(const msgpack::object& object, std::string_view field) {
    if (!expect(object, msgpack::type::POSITIVE_INTEGER, field, "uint"))
        return 0;
    return object.via.u64;
}

bool FieldReader::read_bool(const msgpack::object& object, std::string_view field) {
    if (!expect(object, msgpack::type::BOOLEAN, field, "bool"))
        return false;
    return object.via.boolean;
}

std::string FieldReader::read_bytes(const msgpack::object& object, std::string_view field,
                                    std::size_t bytes_max) {
    if (!ok())
        return {};
    if (object.type == msgpack::type::STR) {
        if (object.via.str.size > bytes_max) {
            fail(Status::too_large, sizes_detail(field, object.via.str.size, bytes_max));
            return {};
        }
        return std::string(object.via.str.ptr, object.via.str.size);
    }
    return read_bin(object, field, bytes_max);
}

std::string FieldReader::read_bin(const msgpack::object& object, std::string_view field,
                                  std::size_t bytes_max) {
    if (!expect(object, msgpack::type::BIN, field, "bin"))
        return {};
    if (object.via.bin.size > bytes_max) {
        fail(Status::too_large, sizes_detail(field, object.via.bin.size, bytes_max));
        return {};
    }
    return std::string(object.via.bin.ptr, object.via.bin.size);
}

std::optional<std::string> FieldReader::read_optional_bytes(const msgpack::object& object,
                                                            std::string_view field,
                                                            std::size_t bytes_max) {
    if (!ok() || object.type == msgpack::type::NIL)
        return std::nullopt;
    if (object.type != msgpack::type::STR && object.type != msgpack::type::BIN) {
        fail(Status::bad_request,
             std::string(field) + ": expected bin, str or nil, got " + type_name(object));
        return std::nullopt;
    }
    return read_bytes(object, field, bytes_max);
}

std::span<const msgpack::object> FieldReader::read_array(const msgpack::object& object,
                                                         std::string_view field,
                                                         std::size_t size_min) {
    if (!expect(object, msgpack::type::ARRAY, field, "array"))
        return {};
    if (object.via.array.size < size_min) {
        fail(Status::bad_request, std::string(field) + ": expected at least " +
                                      std::to_string(size_min) + " elements, got " +
                                      std::to_string(object.via.array.size));
        return {};
    }
    return {object.via.array.ptr, object.via.array.size};
}

std::span<const msgpack::object_kv> FieldReader::read_map(const msgpack::object& object,
                                                          std::string_view field) {
    if (!expect(object, msgpack::type::MAP, field, "map"))
        return {};
    return {object.via.map.ptr, object.via.map.size};
}

void FieldReader::fail(Status status, std::string detail) {
    if (ok())
        error_ = Error{status, std::move(detail)};
}

const Error& FieldReader::error() const {
    CABILDO_ASSERT(!ok(), "error() on a FieldReader without an error");
    return *error_;
}

void pack_bin(msgpack::packer<msgpack::sbuffer>& packer, std::string_view bytes) {
    packer.pack_bin(static_cast<std::uint32_t>(bytes.size()));
    packer.pack_bin_body(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
}

void pack_str(msgpack::packer<msgpack::sbuffer>& packer, std::string_view text) {
    packer.pack_str(static_cast<std::uint32_t>(text.size()));
    packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

msgpack::packer<msgpack::sbuffer>& MapWriter::key(std::string_view name) {
    ++size_;
    pack_str(packer_, name);
    return packer_;
}

std::string MapWriter::finish() const {
    msgpack::sbuffer header;
    msgpack::packer<msgpack::sbuffer>(header).pack_map(size_);
    std::string out(header.data(), header.size());
    out.append(body_.data(), body_.size());
    return out;
}

void pack_bool(msgpack::packer<msgpack::sbuffer>& packer, bool value) {
    if (value) {
        packer.pack_true();
    } else {
        packer.pack_false();
    }
}

void pack_optional_bin(msgpack::packer<msgpack::sbuffer>& packer,
                       const std::optional<std::string>& bytes) {
    if (bytes) {
        pack_bin(packer, *bytes);
    } else {
        packer.pack_nil();
    }
}

std::string encode_object(const msgpack::object& object) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, object);
    return to_string(buffer);
}

std::span<const msgpack::object> read_versioned_array(FieldReader& reader,
                                                      const msgpack::object& object,
                                                      std::string_view what,
                                                      std::size_t fields_min) {
    const std::span<const msgpack::object> all = reader.read_array(object, what, fields_min + 1);
    if (!reader.ok())
        return {};
    const std::uint64_t version = reader.read_uint(all[0], "version");
    if (reader.ok() && version != protocol_version) {
        reader.fail(Status::bad_request, "version: unsupported " + std::to_string(version) +
                                             ", expected " + std::to_string(protocol_version));
    }
    if (!reader.ok())
        return {};
    return all.subspan(1);
}

}  // namespace cabildo::wire::detail
