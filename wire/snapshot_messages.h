// Snapshot transfer between peers: the bytes of the snapshot an
// install_snapshot message names, sent in chunks beside the Raft messages
// (PROTOCOL.md, "Snapshot transfer").
//
// A chunk travels as the frames ["cabildo-snap", header, data], an
// acknowledgement as ["cabildo-snap", header]; the header is a msgpack
// array [version, kind, from, to, term, snapshot_index, snapshot_term,
// offset, total, crc32]. kind 1 = chunk: `data` is the file's bytes at
// `offset` (of `total`), crc32 their CRC-32. kind 2 = ack: the receiver
// holds the file's first `offset` bytes, verified (it asks for the rest).
#pragma once

#include <cstdint>
#include <string>

#include "node/raft/result.h"
#include "node/raft/types.h"

namespace cabildo::wire {

inline constexpr const char* snapshot_marker = "cabildo-snap";
inline constexpr std::size_t snapshot_chunk_bytes_max = std::size_t{4} << 20;

enum class SnapshotPieceKind : std::uint8_t { chunk = 1, ack = 2 };

struct SnapshotPiece {
    SnapshotPieceKind kind = SnapshotPieceKind::chunk;
    raft::NodeId from = raft::node_none;
    raft::NodeId to = raft::node_none;
    raft::Term term = 0;  // the leader's term when it started the transfer
    raft::LogIndex snapshot_index = 0;
    raft::Term snapshot_term = 0;
    std::uint64_t offset = 0;
    std::uint64_t total = 0;
    std::uint32_t crc = 0;  // chunk: of data
    std::string data;       // chunk only

    bool operator==(const SnapshotPiece&) const = default;
};

std::string encode_snapshot_header(const SnapshotPiece& piece);
// The header only (data is the next frame). bad_request for a wrong shape,
// a kind other than 1 or 2, from or to 0 or equal, or offset > total.
Result<SnapshotPiece> decode_snapshot_header(const void* data, std::size_t size);

}  // namespace cabildo::wire
