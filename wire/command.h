// The replicated command: what a client write becomes inside a Raft log
// entry's data.
//
// The node builds a Command from a validated ClientRequest (put, delete or
// cas), proposes encode_command() as the entry data, and every node's state
// machine applies decode_command() of each committed entry. The layout is a
// compact msgpack array (PROTOCOL.md, "Replicated commands"); it is stored in
// every log, so decoders of later versions must keep reading this one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace cabildo::wire {

// Invariants (checked by decode_command, asserted by encode_command): op is
// put, del or cas; key is 1..key_bytes_max bytes; value at most
// value_bytes_max bytes and empty for del; expected is set exactly for cas;
// session and seq are both 0 (no session) or both non-zero.
struct Command {
    Op op = Op::put;
    std::string key;
    std::string value;
    std::optional<std::optional<std::string>> expected;  // cas: inner nullopt = must be absent
    std::uint64_t session = 0;
    std::uint64_t seq = 0;

    bool operator==(const Command&) const = default;
};

// [version, op, key(bin), value(bin), expected(bin or nil), session, seq];
// expected is nil for put and del.
std::string encode_command(const Command& command);
Result<Command> decode_command(const void* data, std::size_t size);

}  // namespace cabildo::wire
