// Peer messages and the Raft storage records in msgpack: raft::Message,
// raft::Entry and raft::HardState to bytes and back.
//
// The node shell sends encode_message() frames between peers and feeds
// received frames to decode_message(); storage/ (which must not include
// msgpack) persists log entries and the hard state through encode_entry() and
// encode_hard_state(). Layouts are in PROTOCOL.md, "Peer protocol". Decoders
// never throw and check every field; they do not judge a message against
// Raft state (stale terms are the core's business).
#pragma once

#include <cstddef>
#include <string>

#include "node/raft/result.h"
#include "node/raft/types.h"

namespace cabildo::wire {

// [version, type, from, to, term, last_log_index, last_log_term, transfer,
//  granted, prev_log_index, prev_log_term, entries, leader_commit, success,
//  match_index, reject_index, hint_index, hint_term, read_round,
//  snapshot_index, snapshot_term, snapshot_members], every element present
// for every type (a decoder accepts a frame without the last three, as
// nodes before them sent). Precondition: message passes
// decode_message()'s checks (it is asserted on the encoded form's cheap
// parts: from and to non-zero).
std::string encode_message(const raft::Message& message);

// Rejects (bad_request) a wrong shape or type, a type above
// raft::message_type_max, from or to == 0 or from == to, entries on any type
// but append_entries, and entries that do not run consecutively from
// prev_log_index + 1 with non-decreasing terms in [max(1, prev_log_term),
// term]. A frame over raft_frame_bytes_max or more than
// entries_per_message_max entries: too_large.
Result<raft::Message> decode_message(const void* data, std::size_t size);

// Storage record of one log entry: [version, term, index, type, data(bin)].
std::string encode_entry(const raft::Entry& entry);
// Requires term >= 1, index >= 1 and a known entry type.
Result<raft::Entry> decode_entry(const void* data, std::size_t size);

// Storage record of the hard state: [version, term, voted_for, commit_index].
std::string encode_hard_state(const raft::HardState& hard_state);
Result<raft::HardState> decode_hard_state(const void* data, std::size_t size);

}  // namespace cabildo::wire
