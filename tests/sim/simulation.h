// Simulation: a whole Raft cluster in one process, driven by one seed.
//
// N cores (3, 5 or 7 voters, and in some seeds one or two spare nodes that
// start empty outside the membership) run over a SimNetwork that delays, drops, duplicates
// and reorders messages and forms and heals partitions (symmetric, one-way,
// isolate-the-leader, minority/majority). Nodes crash, losing everything not
// yet persisted, and restart from what was. A client proposes commands and
// issues ReadIndex reads throughout. After every event the SafetyChecker
// checks Raft's safety properties. Then the faults stop and liveness is
// checked: a leader is elected and a new command commits on every node within
// a bounded number of ticks.
//
// Each node runs the node's own Ready cycle (node/ready_cycle.h) over
// in-memory storage: a crash may strike between any two of its steps (a
// write then lands whole or not at all), storage calls fail at random (the
// cycle stalls and retries), and a commit-only hard state is not synced.
//
// Nodes also take snapshots of their applied state at random and compact
// their logs by the node's rule (raft::compaction_index), so lagging and
// restarted followers catch up through InstallSnapshot; half the crashes
// are OS crashes that lose the applied state back to the latest snapshot.
//
// The leader changes the membership at random (add a learner or a voter,
// promote, remove any member, itself included), one server at a time.
//
// Time is a counter of units; a tick is tick_units of them. Nothing reads a
// clock, so a seed replays exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/raft.h"
#include "tests/sim/checker.h"
#include "tests/sim/network.h"
#include "tests/support/memory_log.h"

namespace cabildo::sim {

struct SimOptions {
    std::size_t nodes = 0;               // 0: chosen by the seed among 3, 5, 7
    std::uint64_t fault_ticks = 400;     // ticks with faults
    std::uint64_t liveness_ticks_max = 300;
    bool trace = false;                  // print every event to stderr
};

struct SimReport {
    std::uint64_t seed = 0;
    std::size_t nodes = 0;
    std::optional<std::string> violation;
    std::uint64_t committed = 0;
    std::uint64_t writes_acked = 0;
    std::uint64_t reads_checked = 0;
    std::uint64_t crashes = 0;
    std::uint64_t partitions = 0;
    std::uint64_t leaders = 0;
    std::uint64_t snapshots_taken = 0;
    std::uint64_t snapshots_installed = 0;
    std::uint64_t compactions = 0;
    std::uint64_t membership_changes = 0;  // proposed and taken by a leader
    std::uint64_t crashes_midway = 0;  // inside the Ready cycle, between two of its steps
    std::uint64_t storage_stalls = 0;  // Readies that storage failed, retried later
    std::uint64_t liveness_ticks = 0;  // ticks from heal to the liveness command on every node
};

SimReport run_simulation(std::uint64_t seed, const SimOptions& options);

}  // namespace cabildo::sim
