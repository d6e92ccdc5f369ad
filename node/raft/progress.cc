// Progress flow control; see progress.h.
#include "node/raft/progress.h"

#include <algorithm>

#include "node/raft/assert.h"

namespace cabildo::raft {

bool Progress::is_paused(std::size_t inflight_max) const {
    if (state == State::snapshot) return true;
    if (state == State::probe) return probe_sent;
    return inflight_.size() >= inflight_max;
}

void Progress::sent_append(LogIndex last_index, std::size_t count) {
    if (state == State::probe) {
        probe_sent = true;
        return;
    }
    if (count == 0) return;
    CABILDO_ASSERT(last_index >= next_index, "append sent behind next_index");
    next_index = last_index + 1;
    inflight_.push_back(last_index);
}

bool Progress::maybe_update(LogIndex index) {
    bool updated = false;
    if (match_index < index) {
        match_index = index;
        updated = true;
        probe_sent = false;
    }
    next_index = std::max(next_index, index + 1);
    while (!inflight_.empty() && inflight_.front() <= index) inflight_.pop_front();
    return updated;
}

bool Progress::maybe_decrease_to(LogIndex rejected, LogIndex match_hint) {
    if (state == State::snapshot) return false;  // answers to older appends
    if (state == State::replicate) {
        // Everything up to match_index is known to match: an older rejection is stale.
        if (rejected <= match_index) return false;
        next_index = match_index + 1;
        return true;
    }
    // In probe only the latest probe (at next_index - 1) counts.
    if (next_index == 0 || next_index - 1 != rejected) return false;
    next_index = std::max(std::min(rejected, match_hint + 1), match_index + 1);
    probe_sent = false;
    return true;
}

void Progress::free_first_inflight_if_full(std::size_t inflight_max) {
    if (state == State::replicate && inflight_.size() >= inflight_max) inflight_.pop_front();
}

void Progress::become_probe() {
    state = State::probe;
    probe_sent = false;
    next_index = match_index + 1;
    inflight_.clear();
}

void Progress::become_snapshot(LogIndex snapshot_index) {
    state = State::snapshot;
    probe_sent = false;
    pending_snapshot = snapshot_index;
    snapshot_ticks = 0;
    inflight_.clear();
}

void Progress::become_replicate() {
    state = State::replicate;
    probe_sent = false;
    next_index = match_index + 1;
    inflight_.clear();
}

const char* progress_state_name(Progress::State state) {
    switch (state) {
    case Progress::State::probe: return "probe";
    case Progress::State::replicate: return "replicate";
    case Progress::State::snapshot: return "snapshot";
    }
    return "unknown";
}

}  // namespace cabildo::raft
