// Progress: the leader's view of one follower (Raft Figure 2's next_index and
// match_index), plus flow control (etcd's tracker/progress.go).
//
// In `probe` the leader does not know where the follower's log matches: it
// sends one append at a time and waits for the answer. In `replicate` the
// follower is keeping up: appends are pipelined, at most inflight_max of them
// unacknowledged. In `snapshot` the follower needs entries that are
// compacted away: a snapshot was sent and nothing else goes until it is
// answered, reported failed, or snapshot_timeout_ticks pass. Invariant:
// match_index < next_index.
#pragma once

#include <cstddef>
#include <deque>

#include "node/raft/types.h"

namespace cabildo::raft {

class Progress {
public:
    enum class State { probe, replicate, snapshot };

    explicit Progress(LogIndex next_index = 1) : next_index(next_index) {}

    LogIndex next_index = 1;
    LogIndex match_index = 0;
    State state = State::probe;
    bool probe_sent = false;     // probe: an append is out, wait for its answer
    bool recent_active = false;  // heard from within the last election timeout (check quorum)
    bool active_before = false;  // ... or within the one before (membership checks)
    std::uint64_t read_round_acked = 0;
    LogIndex pending_snapshot = 0;  // snapshot: the index of the snapshot sent
    int snapshot_ticks = 0;         // snapshot: leader ticks since it was sent

    bool is_paused(std::size_t inflight_max) const;
    // An append carrying entries up to last_index (count of them) was sent.
    void sent_append(LogIndex last_index, std::size_t count);
    // The follower acknowledged it holds everything up to index. True if new.
    bool maybe_update(LogIndex index);
    // The follower rejected the append whose prev_log_index was `rejected`;
    // `match_hint` is the highest index that might still match. False if the
    // rejection is stale.
    bool maybe_decrease_to(LogIndex rejected, LogIndex match_hint);
    // The follower answered a heartbeat: if appends were lost the window may
    // be full forever, so let one more go (its rejection resets the window).
    void free_first_inflight_if_full(std::size_t inflight_max);
    void become_probe();
    void become_replicate();
    void become_snapshot(LogIndex snapshot_index);
    std::size_t inflight_count() const { return inflight_.size(); }

private:
    std::deque<LogIndex> inflight_;  // last index of each append in flight, ascending
};

const char* progress_state_name(Progress::State state);

}  // namespace cabildo::raft
