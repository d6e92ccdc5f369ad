// SafetyChecker: Raft's safety properties, checked by the simulator after
// every event (Raft Figure 3), plus the client-visible guarantees.
//
// It sees what an omniscient observer sees: every node's durable log, every
// commit index and every applied entry. It never changes the cluster. The
// first violation is kept as a message; the simulation stops there.
//
// - Election safety: at most one leader per term.
// - Log matching: checked by induction, an entry (index, term) always has the
//   same command and the same predecessor term, on every node.
// - Leader completeness: a new leader's log holds every committed entry.
// - No commit without a quorum of the membership in force: when a leader
//   commits, a majority of the voters it uses (its latest configuration
//   entry, thesis §4.1) hold the entry durably. A node that durably knows an
//   entry is committed holds it for good (in its log, or compacted into its
//   snapshot). (One that holds it without knowing may still have it
//   overwritten by a stale leader of an older term: Raft allows that.)
// - Compaction: a node drops only entries its latest durable snapshot
//   covers, so an OS crash (which loses the applied state) can restart it.
// - State machine safety: no two nodes apply different entries at one index;
//   each node applies in order, never twice (across restarts too).
// - Reads: a ReadIndex read never reflects a state older than a write that
//   was acknowledged before the read started.
// - Snapshots: a snapshot holds the state every node had at its index, and
//   its index is a committed entry of its term; installing one never takes
//   a node's state machine back. Compacted entries count as held (they are
//   in the node's snapshot, which these checks cover).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/types.h"
#include "tests/support/memory_log.h"

namespace cabildo::sim {

class SafetyChecker {
public:

    void on_leader(raft::NodeId id, raft::Term term, const test::MemoryLog& durable_log,
                   const std::vector<raft::Entry>& unstable);
    void on_persisted(raft::NodeId id, const test::MemoryLog& log, raft::LogIndex first_new);
    void on_commit(raft::NodeId id, raft::LogIndex commit_index, const test::MemoryLog& log,
                   const std::vector<raft::Entry>& unstable);
    void on_apply(raft::NodeId id, raft::LogIndex durable_applied, const raft::Entry& entry);
    // The state machine of node id after applying index.
    void on_state(raft::NodeId id, raft::LogIndex index, std::uint64_t state);
    void on_snapshot_taken(raft::NodeId id, const raft::SnapshotMeta& snapshot,
                           std::uint64_t state);
    void on_snapshot_installed(raft::NodeId id, raft::LogIndex applied_before,
                               const raft::SnapshotMeta& snapshot, std::uint64_t state);
    void on_write_acked(raft::LogIndex index);
    std::uint64_t acked_index_max() const { return acked_index_max_; }
    void on_read(raft::NodeId id, raft::LogIndex read_index, std::uint64_t acked_index_at_start);
    // A leader's commit index moved to index (an entry of its term): the
    // entry must be durable on a majority of the voters it uses.
    void on_leader_commit(raft::NodeId id, raft::LogIndex index, raft::Term term,
                          const std::vector<raft::NodeId>& voters,
                          const std::map<raft::NodeId, const test::MemoryLog*>& logs);
    // After any change to a node's durable log or snapshot.
    // known_committed: how far the node durably knows the log is committed
    // (its synced commit index, its snapshot).
    void check_node_log(raft::NodeId id, const test::MemoryLog& log,
                        raft::LogIndex known_committed);

    const std::optional<std::string>& violation() const { return violation_; }
    std::uint64_t committed_max() const { return committed_.size(); }
    std::uint64_t reads_checked() const { return reads_checked_; }

private:
    void fail(std::string message);
    void check_snapshot(const char* what, raft::NodeId id, const raft::SnapshotMeta& snapshot,
                        std::uint64_t state);
    const raft::Entry* committed_at(raft::LogIndex index) const;

    std::map<raft::Term, raft::NodeId> leaders_;
    std::map<raft::NodeId, raft::LogIndex> commit_checked_;  // per node, already compared
    struct EntryId {
        raft::Term prev_term = 0;
        std::string data;
        raft::EntryType type = raft::EntryType::normal;
    };
    std::map<std::pair<raft::LogIndex, raft::Term>, EntryId> seen_;  // log matching
    std::vector<raft::Entry> committed_;                             // committed_[i-1] at index i
    std::vector<raft::Entry> applied_;                               // the one applied sequence
    std::map<raft::LogIndex, std::uint64_t> states_;                 // state after each index
    std::map<raft::NodeId, raft::LogIndex> held_;  // per node: held committed 1..this durably
    std::uint64_t acked_index_max_ = 0;
    std::uint64_t reads_checked_ = 0;
    std::optional<std::string> violation_;
};

}  // namespace cabildo::sim
