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
#include <vector>

#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace cabildo::wire {

// The leader's verdict on one lease: expired, as of its renewal at index
// `renewed`. Applied only if the lease was not renewed since.
struct LeaseExpiry {
    std::uint64_t lease = 0;
    std::uint64_t renewed = 0;

    bool operator==(const LeaseExpiry&) const = default;
};
inline constexpr std::size_t lease_expiries_max = 256;  // per lease_expire command

// Invariants (checked by decode_command, asserted by encode_command): op is
// a command op (is_command_op) or lease_expire; key is 1..key_bytes_max
// bytes for put, del and cas; value at most value_bytes_max bytes and empty
// for del; cas has exactly one of expected and mod_revision; txn is set
// exactly for txn; session and seq are both 0 (no session) or both non-zero.
struct Command {
    Op op = Op::put;
    std::string key;
    std::string value;
    std::optional<std::optional<std::string>> expected;  // cas: inner nullopt = must be absent
    std::uint64_t session = 0;
    std::uint64_t seq = 0;
    // Appended fields (absent from older entries: defaults).
    std::uint64_t lease = 0;      // put/cas: attach; lease_grant (0: pick)/keepalive/revoke
    bool prev = false;            // put
    bool prefix = false;          // del: key is a prefix
    std::optional<std::uint64_t> mod_revision{};  // cas
    std::uint64_t ttl_ms = 0;     // lease_grant
    std::vector<LeaseExpiry> expiries{};  // lease_expire
    std::optional<Txn> txn{};     // txn
    // Coordination (wire/coord.h): `key` is a waiter key for unlock/resign
    // by key and wait_cancel; `lease` the holder's (lock, campaign,
    // proclaim, unlock, resign) or the receipt (queue_ack); ttl_ms the
    // visibility (queue_get).
    std::string name{};           // the lock's, election's or queue's
    bool wait = false;            // lock, campaign, queue_get: join the queue if busy
    std::uint64_t token = 0;      // unlock, resign: only this grant
    std::uint64_t item = 0;       // queue_ack
    std::uint64_t items_max = 0;  // queue_put: the proposer's limits
    std::uint64_t bytes_max = 0;

    bool operator==(const Command&) const = default;
};

// [version, op, key(bin), value(bin), expected(bin or nil), session, seq,
//  lease, flags (1 prev, 2 prefix), mod_revision (uint or nil), ttl_ms,
//  expiries [[lease, renewed]...], txn (nil or [compares, success, failure]),
//  name(bin), token, item, items_max, bytes_max]; flags bit 4 is wait.
// expected is nil but for cas. Entries written before the fields after seq
// existed decode with their defaults.
std::string encode_command(const Command& command);
Result<Command> decode_command(const void* data, std::size_t size);

}  // namespace cabildo::wire
