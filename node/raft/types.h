// Plain data types of the Raft core: entries, hard state, messages, Ready.
//
// These are the only shapes that cross the core's boundary. wire/ converts
// Message to and from msgpack, storage/ persists Entry and HardState. Nothing
// here knows about sockets, clocks or disks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/ids.h"
#include "node/raft/membership.h"

namespace cabildo::raft {

enum class Role : std::uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(Role role);

enum class EntryType : std::uint8_t {
    normal = 0,  // data is a client command, opaque to the core
    noop = 1,    // appended by a new leader at the start of its term (Raft §8)
    config = 2,  // data is a whole new Membership (encode_membership); in force once in the log
};
constexpr std::uint8_t entry_type_max = 2;

struct Entry {
    Term term = 0;
    LogIndex index = 0;
    EntryType type = EntryType::normal;
    std::string data{};

    bool operator==(const Entry&) const = default;
};

// Raft Figure 2 "persistent state on all servers", plus commit_index so a
// restarted node does not have to relearn it (etcd keeps it there too).
struct HardState {
    Term term = 0;
    NodeId voted_for = node_none;
    LogIndex commit_index = 0;

    bool operator==(const HardState&) const = default;
};

// A snapshot of the state machine: the state after applying every entry up
// to index (Raft §7). The core sees only this metadata; the bytes are the
// shell's (a file it takes, sends in chunks and installs).
struct SnapshotMeta {
    LogIndex index = 0;  // 0: no snapshot
    Term term = 0;       // of the entry at index
    Membership membership{};  // as of index

    bool operator==(const SnapshotMeta&) const = default;
};

enum class MessageType : std::uint8_t {
    request_vote = 0,
    request_vote_response = 1,
    request_pre_vote = 2,           // Raft thesis §9.6: term is the term the sender would use
    request_pre_vote_response = 3,
    append_entries = 4,
    append_entries_response = 5,
    heartbeat = 6,                  // leader -> follower: commit + read_round, no entries
    heartbeat_response = 7,
    timeout_now = 8,                // leadership transfer: start an election now (thesis §3.10)
    install_snapshot = 9,           // leader -> follower: replace your log with this snapshot (§7)
};
constexpr std::uint8_t message_type_max = 9;
const char* message_type_name(MessageType type);

// One flat message for every RPC, as etcd's raftpb.Message. Fields a type does
// not use stay zero/empty. The meaning per type:
//
// request_vote / request_pre_vote: last_log_index, last_log_term (§5.4.1);
//     transfer = true when started by timeout_now (voters then ignore their
//     leader lease).
// *_vote_response: granted.
// append_entries: prev_log_index, prev_log_term, entries, leader_commit,
//     read_round.
// append_entries_response: success; match_index = the last index the follower
//     now holds that matches the leader (success); on failure reject_index =
//     the prev_log_index that was rejected and hint_index/hint_term = the
//     follower's largest index <= reject_index whose term <= prev_log_term
//     (fast backtracking), and read_round echoed.
// heartbeat: leader_commit (already capped at the follower's match), read_round.
// heartbeat_response: read_round echoed.
// install_snapshot: snapshot (the leader's latest; its shell sends the bytes
//     beside the message, and the follower's shell steps the message only
//     once it holds them, verified). The follower answers with an
//     append_entries_response: success, match_index = the snapshot's index
//     (or its own commit index if that is higher).
struct Message {
    MessageType type = MessageType::heartbeat;
    NodeId from = node_none;
    NodeId to = node_none;
    Term term = 0;

    LogIndex last_log_index = 0;
    Term last_log_term = 0;
    bool transfer = false;
    bool granted = false;

    LogIndex prev_log_index = 0;
    Term prev_log_term = 0;
    std::vector<Entry> entries{};
    LogIndex leader_commit = 0;

    bool success = false;
    LogIndex match_index = 0;
    LogIndex reject_index = 0;
    LogIndex hint_index = 0;
    Term hint_term = 0;

    std::uint64_t read_round = 0;  // ReadIndex: leader's heartbeat round (thesis §6.4)

    SnapshotMeta snapshot{};

    bool operator==(const Message&) const = default;
};

// A linearizable read the shell asked for; id is the shell's own handle.
struct ReadContext {
    std::uint64_t id = 0;
};

// A read that became safe: serve it once the state machine has applied index.
struct ReadState {
    ReadContext context;
    LogIndex index = 0;
};

// Volatile state the shell may log or report; changes are reported in Ready.
struct SoftState {
    Role role = Role::follower;
    NodeId leader = node_none;

    bool operator==(const SoftState&) const = default;
};

// The work the core asks the shell to do, in this order:
//   0. messages_early may be sent at once, BEFORE step 1;
//   1. install snapshot, if set: the state machine becomes the received
//      snapshot's state and the log is emptied to start after its index
//      (first_index() == snapshot.index + 1, term_at(snapshot.index) ==
//      snapshot.term), durably; then persist hard_state and
//      entries_to_persist (entries replace any stored suffix starting at
//      entries_to_persist.front().index), synced;
//   2. send messages: only AFTER step 1 is durable (Raft's durability rule);
//   3. apply entries_to_apply in order and record the applied index;
//   4. serve reads_ready whose index is applied; fail reads_failed;
//   5. call advance(ready).
struct Ready {
    std::optional<SoftState> soft_state;
    std::optional<SnapshotMeta> snapshot;  // received from the leader, to install
    std::optional<HardState> hard_state;
    std::vector<Entry> entries_to_persist;
    // A leader's appends, heartbeats and TimeoutNow depend on nothing it has
    // not made durable: thesis §10.2.1 lets the leader write its log in
    // parallel with replicating it, because it counts its own entries toward
    // a majority only once they are durable.
    std::vector<Message> messages_early;
    std::vector<Message> messages;
    std::vector<Entry> entries_to_apply;
    std::vector<ReadState> reads_ready;
    std::vector<ReadContext> reads_failed;  // leadership lost before the read was confirmed
};

}  // namespace cabildo::raft
