// ReadyCycle: what a shell does with each Ready, in Ready's order: apply
// what its log already holds, send a leader's early appends, install a
// received snapshot, persist (synced), send what depends on that, apply the
// rest, finish reads, advance(). Plus compaction by raft::compaction_index
// and the rule for when to take a snapshot.
//
// One piece of code for two shells: the node's (LMDB, log segments,
// ZeroMQ) and the simulator's (in memory, where a crash may strike between
// any two steps, a write survives whole or not at all, an OS crash loses
// the unsynced applied state, and storage fails at random). So the
// simulator's seeds check the node's own ordering, not a copy of it.
//
// If storage fails (a full disk), the Ready is kept and the cycle is
// stalled: a later run() retries it from the step that failed, and nothing
// that depends on what failed has been sent. While it is stalled the core
// may not be called (no tick, step or propose); report_snapshot() waits
// here until the Ready is advanced.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "node/raft/raft.h"
#include "node/raft/result.h"

namespace cabildo::node {

// What the cycle asks of its shell. Storage calls may fail with an Error;
// they leave nothing half-done that a retry could not complete.
class ReadyShell {
public:
    virtual ~ReadyShell() = default;

    // The state machine's position and its newest durable snapshot's index.
    virtual raft::LogIndex applied_index() const = 0;
    virtual raft::LogIndex snapshot_index() const = 0;
    // Applies committed entries (consecutive, the first right after
    // applied_index()) and answers their writers. They are in this node's
    // synced log, so the state need not be synced.
    virtual Result<bool> apply(std::span<const raft::Entry> entries) = 0;
    // Replaces the state and the log with a snapshot the leader sent.
    // Idempotent: a retry after a later failure finds it done.
    virtual Result<bool> install_snapshot(const raft::SnapshotMeta& snapshot) = 0;
    // The hard state and the entries (replacing any stored suffix from the
    // first one), durable when it returns.
    virtual Result<bool> persist(const std::optional<raft::HardState>& hard_state,
                                 const std::vector<raft::Entry>& entries) = 0;
    // Drops the log through `through` (at most; the shell clamps it).
    virtual void compact(raft::LogIndex through) = 0;
    virtual void send(const raft::Message& message) = 0;
    // The end of a Ready, before advance(): a new role, confirmed and
    // failed reads.
    virtual void finish(const raft::Ready& ready) = 0;
};

// When to take a snapshot.
struct SnapshotPolicy {
    raft::LogIndex entries = 0;   // applied since the last one; 0: never
    raft::LogIndex trailing = 0;  // entries kept after it (raft::compaction_index)
};

// Due once `entries` were applied since the last snapshot and the log
// written since then is a quarter of its size (Raft thesis §5.1.2: a big
// state is not copied again for a few writes, so writing snapshots costs
// at most about 4x the log's own writes).
inline bool snapshot_due(const SnapshotPolicy& policy, raft::LogIndex applied,
                         raft::LogIndex snapshot_index, std::uint64_t logged_bytes,
                         std::uint64_t snapshot_bytes) {
    return policy.entries != 0 && applied >= snapshot_index + policy.entries &&
           logged_bytes >= snapshot_bytes / 4;
}

class ReadyCycle {
public:
    ReadyCycle(raft::Raft& raft, ReadyShell& shell) : raft_(raft), shell_(shell) {}

    // Retries the stalled Ready, if any, then completes Readies while the
    // core has one and more() agrees (asked before each but the first, so
    // at least one is done). Returns the storage error that stalled it.
    std::optional<Error> run(const std::function<bool()>& more);
    bool stalled() const { return stalled_.has_value(); }

    // Raft::report_snapshot, now or, while a Ready is out, once it is
    // advanced.
    void report_snapshot(raft::NodeId to, bool delivered);

    // Compacts the log as far as the rule allows, keeping `trailing`
    // entries after the snapshot.
    void compact(raft::LogIndex trailing);

private:
    std::optional<Error> complete(raft::Ready& ready);
    std::optional<Error> apply_committed(const std::vector<raft::Entry>& entries,
                                         raft::LogIndex below);
    std::optional<Error> stall(raft::Ready& ready, Error error);
    void report_snapshots();

    raft::Raft& raft_;
    ReadyShell& shell_;
    std::optional<raft::Ready> stalled_;  // a Ready storage could not complete yet
    bool log_persisted_ = false;  // the current Ready's log part is durable
    bool in_flight_ = false;      // between take_ready() and advance()
    std::vector<std::pair<raft::NodeId, bool>> reports_;  // waiting for advance()
};

}  // namespace cabildo::node
