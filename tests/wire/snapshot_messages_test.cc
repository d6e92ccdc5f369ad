// Tests of the snapshot wire formats: snapshot_read requests and replies
// (backups) and the peer transfer's chunk and ack headers.
#include <gtest/gtest.h>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"
#include "wire/snapshot_messages.h"

namespace cabildo::wire {
namespace {

TEST(SnapshotRead, RequestAndReplyRoundTrip) {
    ClientRequest request;
    request.op = Op::snapshot_read;
    request.index = 1500;
    request.from = 1 << 20;
    request.at_least = 1400;
    const std::string bytes = encode_request(request);
    auto decoded = decode_request(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, request);

    ClientReply reply;
    reply.ok = true;
    reply.revision = 1500;
    reply.snapshot = SnapshotChunk{1500, 3, 5 << 20, 1 << 20, std::string(1000, '\0')};
    const std::string reply_bytes = encode_reply(reply);
    auto reply_decoded = decode_reply(reply_bytes.data(), reply_bytes.size());
    ASSERT_TRUE(reply_decoded.ok()) << reply_decoded.error().detail;
    EXPECT_EQ(*reply_decoded, reply);
}

TEST(SnapshotRead, DefaultsAndOtherOpsIgnoreIndex) {
    const std::string bare = test::mp_map({{"op", test::mp_str("snapshot_read")}});
    auto decoded = decode_request(bare.data(), bare.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(decoded->index, 0u);
    EXPECT_EQ(decoded->from, 0u);
    EXPECT_EQ(decoded->at_least, 0u);
    const std::string get = test::mp_map(
        {{"op", test::mp_str("get")}, {"key", test::mp_bin("k")}, {"index", test::mp_uint(3)}});
    auto got = decode_request(get.data(), get.size());
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->index, 0u);
    const std::string wrong = test::mp_map(
        {{"op", test::mp_str("snapshot_read")}, {"index", test::mp_str("x")}});
    auto bad = decode_request(wrong.data(), wrong.size());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().detail.find("index"), std::string::npos) << bad.error().detail;
}

TEST(SnapshotPieces, HeaderRoundTrip) {
    SnapshotPiece chunk{SnapshotPieceKind::chunk, 1, 2, 7, 900, 6, 4096, 10000, 0xdeadbeef, {}};
    const std::string bytes = encode_snapshot_header(chunk);
    auto decoded = decode_snapshot_header(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, chunk);
    SnapshotPiece ack{SnapshotPieceKind::ack, 2, 1, 7, 900, 6, 4096, 10000, 0, {}};
    const std::string ack_bytes = encode_snapshot_header(ack);
    EXPECT_EQ(*decode_snapshot_header(ack_bytes.data(), ack_bytes.size()), ack);
}

TEST(SnapshotPieces, RejectsMalformedHeaders) {
    const auto with = [](SnapshotPiece p) { return encode_snapshot_header(p); };
    SnapshotPiece good{SnapshotPieceKind::chunk, 1, 2, 7, 900, 6, 0, 10, 1, {}};
    SnapshotPiece to_self = good;
    to_self.to = 1;
    SnapshotPiece past_total = good;
    past_total.offset = 11;
    SnapshotPiece index_0 = good;
    index_0.snapshot_index = 0;
    SnapshotPiece kind_3 = good;
    kind_3.kind = static_cast<SnapshotPieceKind>(3);
    for (const std::string& bytes : {with(to_self), with(past_total), with(index_0), with(kind_3),
                                     test::mp_array({test::mp_uint(1)}), std::string("\xc1")}) {
        auto decoded = decode_snapshot_header(bytes.data(), bytes.size());
        EXPECT_FALSE(decoded.ok());
    }
}

}  // namespace
}  // namespace cabildo::wire
