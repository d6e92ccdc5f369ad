// ReadyCycle: the shell's Ready cycle, shared by the node and the
// simulator; see ready_cycle.h.
#include "node/ready_cycle.h"

#include <algorithm>
#include <limits>

#include "node/raft/compaction.h"

namespace cabildo::node {

namespace {
constexpr raft::LogIndex no_limit = std::numeric_limits<raft::LogIndex>::max();
}  // namespace

std::optional<Error> ReadyCycle::run(const std::function<bool()>& more) {
    if (stalled_) {
        raft::Ready ready = std::move(*stalled_);
        stalled_.reset();
        if (auto error = complete(ready)) return error;
    }
    for (bool first = true; raft_.has_ready(); first = false) {
        if (!first && !more()) break;
        raft::Ready ready = raft_.take_ready();
        in_flight_ = true;
        log_persisted_ = false;
        if (auto error = complete(ready)) return error;
    }
    return std::nullopt;
}

// Does a Ready's work in Ready's order; on a storage failure keeps it for
// a retry from the step that failed.
std::optional<Error> ReadyCycle::complete(raft::Ready& ready) {
    // 1. Committed entries this node's log already holds are applied and
    // answered first: they need not wait for the new entries' fsync.
    const raft::LogIndex first_new =
        ready.entries_to_persist.empty() ? no_limit : ready.entries_to_persist.front().index;
    if (auto error = apply_committed(ready.entries_to_apply, first_new)) {
        return stall(ready, *error);
    }
    if (!log_persisted_) {
        // 2. A leader's appends go out while it writes its own log (§10.2.1);
        // on a retry they go again, which Raft tolerates.
        for (const raft::Message& m : ready.messages_early) shell_.send(m);
        // 3a. A snapshot from the leader replaces the state and the log.
        if (ready.snapshot) {
            auto installed = shell_.install_snapshot(*ready.snapshot);
            if (!installed) return stall(ready, installed.error());
        }
        // 3. Hard state and entries, synced.
        auto persisted = shell_.persist(ready.hard_state, ready.entries_to_persist);
        if (!persisted) return stall(ready, persisted.error());
        log_persisted_ = true;
        // 4. Only now may anything that depends on them leave: votes,
        // acknowledgements, a leader's commit index.
        for (const raft::Message& m : ready.messages) shell_.send(m);
    }
    // 5. The rest: committed entries that were new to this node's log (a
    // follower learns an entry and its commit in one append).
    if (auto error = apply_committed(ready.entries_to_apply, no_limit)) {
        return stall(ready, *error);
    }
    // 6. Reads and the new role, then 7. tell the core.
    shell_.finish(ready);
    raft_.advance(ready);
    in_flight_ = false;
    report_snapshots();
    return std::nullopt;
}

std::optional<Error> ReadyCycle::stall(raft::Ready& ready, Error error) {
    stalled_ = std::move(ready);
    return error;
}

// Applies the entries with index < below that are not applied yet (a retry
// after a storage failure finds some already applied).
std::optional<Error> ReadyCycle::apply_committed(const std::vector<raft::Entry>& entries,
                                                 raft::LogIndex below) {
    const raft::LogIndex applied = shell_.applied_index();
    auto first = std::find_if(entries.begin(), entries.end(),
                              [&](const raft::Entry& e) { return e.index > applied; });
    auto last = std::find_if(first, entries.end(),
                             [&](const raft::Entry& e) { return e.index >= below; });
    if (first == last) return std::nullopt;
    auto applied_now = shell_.apply({first, last});
    if (!applied_now) return applied_now.error();
    return std::nullopt;
}

void ReadyCycle::report_snapshot(raft::NodeId to, bool delivered) {
    reports_.emplace_back(to, delivered);
    if (!in_flight_) report_snapshots();
}

void ReadyCycle::report_snapshots() {
    // The core may queue messages in answer: the next Ready sends them.
    std::vector<std::pair<raft::NodeId, bool>> reports = std::move(reports_);
    reports_.clear();
    for (auto [to, delivered] : reports) raft_.report_snapshot(to, delivered);
}

void ReadyCycle::compact(raft::LogIndex trailing) {
    const raft::LogIndex through =
        raft::compaction_index(shell_.snapshot_index(), shell_.applied_index(), trailing);
    if (through > 0) shell_.compact(through);
}

}  // namespace cabildo::node
