// Snapshot transfer headers in msgpack; see snapshot_messages.h.
#include "wire/snapshot_messages.h"

#include "wire/decode_util.h"
#include "wire/protocol.h"

namespace cabildo::wire {

namespace {

constexpr std::size_t header_fields = 9;  // after the version

constexpr detail::UnpackLimits header_limits{
    .frame_bytes_max = 512,
    .array_size_max = 32,
    .map_size_max = 16,
    .str_bytes_max = 256,
    .bin_bytes_max = 0,
    .depth_max = 1,
};

}  // namespace

std::string encode_snapshot_header(const SnapshotPiece& piece) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(header_fields + 1);
    packer.pack_uint64(protocol_version);
    packer.pack_uint8(static_cast<std::uint8_t>(piece.kind));
    packer.pack_uint64(piece.from);
    packer.pack_uint64(piece.to);
    packer.pack_uint64(piece.term);
    packer.pack_uint64(piece.snapshot_index);
    packer.pack_uint64(piece.snapshot_term);
    packer.pack_uint64(piece.offset);
    packer.pack_uint64(piece.total);
    packer.pack_uint32(piece.crc);
    return detail::to_string(buffer);
}

Result<SnapshotPiece> decode_snapshot_header(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, header_limits, "snapshot header");
    if (!handle) return handle.error();
    detail::FieldReader reader;
    const auto f =
        detail::read_versioned_array(reader, handle->get(), "snapshot header", header_fields);
    if (!reader.ok()) return reader.error();
    SnapshotPiece piece;
    const std::uint64_t kind = reader.read_uint(f[0], "kind");
    piece.from = reader.read_uint(f[1], "from");
    piece.to = reader.read_uint(f[2], "to");
    piece.term = reader.read_uint(f[3], "term");
    piece.snapshot_index = reader.read_uint(f[4], "snapshot_index");
    piece.snapshot_term = reader.read_uint(f[5], "snapshot_term");
    piece.offset = reader.read_uint(f[6], "offset");
    piece.total = reader.read_uint(f[7], "total");
    const std::uint64_t crc = reader.read_uint(f[8], "crc");
    if (!reader.ok()) return reader.error();
    if (kind != 1 && kind != 2) {
        return Error{Status::bad_request, "snapshot header: unknown kind " + std::to_string(kind)};
    }
    if (piece.from == raft::node_none || piece.to == raft::node_none || piece.from == piece.to) {
        return Error{Status::bad_request, "snapshot header: bad from/to"};
    }
    if (piece.offset > piece.total || crc > UINT32_MAX || piece.snapshot_index == 0) {
        return Error{Status::bad_request, "snapshot header: offset past total, or bad crc/index"};
    }
    piece.kind = static_cast<SnapshotPieceKind>(kind);
    piece.crc = static_cast<std::uint32_t>(crc);
    return piece;
}

}  // namespace cabildo::wire
