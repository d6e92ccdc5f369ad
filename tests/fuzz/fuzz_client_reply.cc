// Fuzz target: wire::decode_reply, which the C++ client runs on every reply
// frame from a node (a node, or anything listening on its address, is not
// trusted by the client's decoder either).
// Property: as fuzz_raft_message.cc. decode_reply normalizes on purpose in
// ways a round trip keeps: `error` and `message` come back escaped (the
// escaping is idempotent), a status reply's keys become NodeStatus, a range
// reply's `more` moves into RangePage, and an id is re-encoded canonically.
#include "tests/fuzz/fuzz_check.h"
#include "wire/client_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::wire::ClientReply;

void diff_reply(Diff& d, const ClientReply& a, const ClientReply& b) {
    d.field("ok", a.ok, b.ok);
    d.field("error", a.error, b.error);
    d.field("message", a.message, b.message);
    d.field("value", a.value, b.value);
    d.field("succeeded", a.succeeded, b.succeeded);
    d.field("revision", a.revision, b.revision);
    d.field("leader", a.leader, b.leader);
    d.field("range", a.range, b.range);
    d.field("status", a.status, b.status);
    d.field("events", a.events, b.events);
    d.field("more", a.more, b.more);
    d.field("id", a.id, b.id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);
    const Result<ClientReply> first = wire::decode_reply(data, size);
    fuzz::check_error_status(first, "reply");
    if (!first.ok())
        return 0;
    fuzz::check_round_trip("reply", input, *first, wire::encode_reply(*first), wire::decode_reply,
                           diff_reply);
    return 0;
}
