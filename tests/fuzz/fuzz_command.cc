// Fuzz target: wire::decode_command, which every node's state machine runs on
// each committed entry's data.
// Property: as fuzz_raft_message.cc.
#include "tests/fuzz/fuzz_check.h"
#include "wire/command.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::wire::Command;

void diff_command(Diff& d, const Command& a, const Command& b) {
    d.field("op", a.op, b.op);
    d.field("key", a.key, b.key);
    d.field("value", a.value, b.value);
    d.field("expected", a.expected, b.expected);
    d.field("session", a.session, b.session);
    d.field("seq", a.seq, b.seq);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);
    const Result<Command> first = wire::decode_command(data, size);
    fuzz::check_error_status(first, "command");
    if (!first.ok())
        return 0;
    // encode_command asserts the Command invariants, so this also checks that
    // decode_command enforces all of them.
    fuzz::check_round_trip("command", input, *first, wire::encode_command(*first),
                           wire::decode_command, diff_command);
    return 0;
}
