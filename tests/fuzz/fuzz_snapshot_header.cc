// Fuzz target: wire::decode_snapshot_header (the header of every snapshot
// chunk and acknowledgement a peer receives). Property: as
// fuzz_raft_message.cc.
#include "tests/fuzz/fuzz_check.h"
#include "wire/snapshot_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::wire::SnapshotPiece;

void diff_piece(Diff& d, const SnapshotPiece& a, const SnapshotPiece& b) {
    d.field("kind", static_cast<int>(a.kind), static_cast<int>(b.kind));
    d.field("from", a.from, b.from);
    d.field("to", a.to, b.to);
    d.field("term", a.term, b.term);
    d.field("snapshot_index", a.snapshot_index, b.snapshot_index);
    d.field("snapshot_term", a.snapshot_term, b.snapshot_term);
    d.field("offset", a.offset, b.offset);
    d.field("total", a.total, b.total);
    d.field("crc", a.crc, b.crc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);
    const Result<SnapshotPiece> first = wire::decode_snapshot_header(data, size);
    fuzz::check_error_status(first, "snapshot header");
    if (!first.ok())
        return 0;
    fuzz::check_round_trip("snapshot header", input, *first, wire::encode_snapshot_header(*first),
                           wire::decode_snapshot_header, diff_piece);
    return 0;
}
