// Fuzz target: wire::decode_message (peer frames, the most exposed decoder).
// Property: never throws or crashes; rejects with bad_request/too_large; an
// accepted message re-encodes to bytes that decode to the same message.
#include "tests/fuzz/fuzz_check.h"
#include "wire/raft_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::raft::Message;

void diff_message(Diff& d, const Message& a, const Message& b) {
    d.field("type", a.type, b.type);
    d.field("from", a.from, b.from);
    d.field("to", a.to, b.to);
    d.field("term", a.term, b.term);
    d.field("last_log_index", a.last_log_index, b.last_log_index);
    d.field("last_log_term", a.last_log_term, b.last_log_term);
    d.field("transfer", a.transfer, b.transfer);
    d.field("granted", a.granted, b.granted);
    d.field("prev_log_index", a.prev_log_index, b.prev_log_index);
    d.field("prev_log_term", a.prev_log_term, b.prev_log_term);
    d.field("entries", a.entries, b.entries);
    d.field("leader_commit", a.leader_commit, b.leader_commit);
    d.field("success", a.success, b.success);
    d.field("match_index", a.match_index, b.match_index);
    d.field("reject_index", a.reject_index, b.reject_index);
    d.field("hint_index", a.hint_index, b.hint_index);
    d.field("hint_term", a.hint_term, b.hint_term);
    d.field("read_round", a.read_round, b.read_round);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);
    const Result<Message> first = wire::decode_message(data, size);
    fuzz::check_error_status(first, "raft message");
    if (!first.ok())
        return 0;
    fuzz::check_round_trip("raft message", input, *first, wire::encode_message(*first),
                           wire::decode_message, diff_message);
    return 0;
}
