// Config: the fixed parameters of one Raft core.
//
// Times are in ticks: the shell decides how long a tick is. Every queue and
// batch the core keeps has a named maximum here (TigerStyle: put a limit on
// everything).
#pragma once

#include <cstddef>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/types.h"

namespace cabildo::raft {

struct Config {
    NodeId id = node_none;
    // The membership as of `applied` (a brand-new cluster: its bootstrap
    // members; a node joining one: empty). Configuration entries after
    // `applied` in the durable log override it: the core reads them at start.
    Membership membership;

    // Raft §5.2: a follower campaigns after a randomized timeout drawn from
    // [election_timeout_ticks, 2 * election_timeout_ticks).
    int election_timeout_ticks = 10;
    int heartbeat_interval_ticks = 1;

    bool pre_vote = true;      // thesis §9.6: a rejoining node cannot bump the term
    bool check_quorum = true;  // thesis §6.2: a leader without a majority steps down

    std::size_t entries_per_append_max = 512;
    std::size_t append_bytes_max = 4u << 20;
    std::size_t inflight_appends_max = 64;   // per follower, while replicating
    std::size_t apply_bytes_max = 16u << 20; // per Ready
    std::size_t uncommitted_entries_max = 1u << 16;
    std::size_t pending_reads_max = 1u << 16;
    // A follower sent a snapshot gets nothing else until it answers; if it
    // does not within this many ticks (a lost message, a transfer the shell
    // gave up without report_snapshot()), the leader probes it again.
    int snapshot_timeout_ticks = 100;

    // A learner is promoted only once its log is within this many entries of
    // the leader's (thesis §4.2.1: a new voter must not stall commits).
    LogIndex promote_lag_max = 1000;

    LogIndex applied = 0;  // the state machine already holds entries up to here
};

}  // namespace cabildo::raft
