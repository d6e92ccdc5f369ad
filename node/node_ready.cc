// Node: the Ready cycle (persist, send, apply, serve reads, advance).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "node/frames.h"
#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {
constexpr auto stalled_retry_interval = std::chrono::milliseconds(500);
constexpr raft::LogIndex no_limit = std::numeric_limits<raft::LogIndex>::max();
}  // namespace

void Node::process_ready() {
    if (stalled_) {
        if (Clock::now() < stalled_retry_at_) return;
        raft::Ready ready = std::move(*stalled_);
        stalled_.reset();
        if (!complete_ready(ready, stalled_log_persisted_)) return;
        spdlog::info("node {}: storage works again, resuming", config_.id);
    }
    for (bool first = true; raft_.has_ready(); first = false) {
        // Past the turn's budget the rest waits for the next turn, which
        // starts after a poll that does not wait: applying a long log (a
        // restart, a lagging follower) yields to ticks, votes and requests.
        // At least one Ready per call, so nothing starves it.
        if (!first && Clock::now() - turn_start_ > ready_time_per_turn_max) return;
        raft::Ready ready = raft_.take_ready();
        if (ready.soft_state) {
            spdlog::info("node {}: {} in term {} (leader {})", config_.id,
                         raft::role_name(ready.soft_state->role), raft_.term(),
                         ready.soft_state->leader);
        }
        if (!complete_ready(ready, false)) return;
    }
}

// Does a Ready's work in Ready's order. False if storage failed: the Ready is
// kept and retried later from the step that failed (log_persisted says the
// log part is done), and nothing that depends on what failed has been sent.
bool Node::complete_ready(raft::Ready& ready, bool log_persisted) {
    const auto stall = [&](const Error& error) {
        // The map must grow and a snapshot pins it: the snapshot gives way
        // (it is taken again later), and the Ready is retried at once.
        if (error.status == Status::unavailable && snapshot_taker_.running()) {
            snapshot_taker_.cancel();
            spdlog::info("node {}: cancelled a snapshot so that the state's map can grow",
                         config_.id);
            stalled_ = std::move(ready);
            stalled_log_persisted_ = log_persisted;
            stalled_retry_at_ = Clock::now();
            return false;
        }
        if (!stalled_) {
            spdlog::error("node {}: storage failed ({}): {}; writes stop until it recovers",
                          config_.id, status_name(error.status), error.detail);
        }
        stalled_ = std::move(ready);
        stalled_log_persisted_ = log_persisted;
        stalled_retry_at_ = Clock::now() + stalled_retry_interval;
        return false;
    };
    // 1. Committed entries this node's log already holds are applied and
    // answered first: they need not wait for the new entries' fsync.
    const raft::LogIndex first_new =
        ready.entries_to_persist.empty() ? no_limit : ready.entries_to_persist.front().index;
    if (auto applied = apply_committed(ready.entries_to_apply, first_new); !applied) {
        return stall(applied.error());
    }
    if (!log_persisted) {
        // 2. A leader's appends go out while it writes its own log (§10.2.1);
        // on a retry they go again, which Raft tolerates.
        for (const raft::Message& m : ready.messages_early) peers_.send(m);
        // 3a. A snapshot from the leader replaces the state and the log.
        if (ready.snapshot) {
            auto installed = install_snapshot(*ready.snapshot);
            if (!installed) return stall(installed.error());
        }
        // 3. Hard state and entries, synced.
        auto result = storage_->persist(ready.hard_state, ready.entries_to_persist);
        if (!result) return stall(result.error());
        // 4. Only now may anything that depends on them leave.
        for (const raft::Message& m : ready.messages) {
            if (m.type == raft::MessageType::install_snapshot) begin_transfer(m);
            peers_.send(m);
        }
        log_persisted = true;
    }
    // 5. The rest: committed entries that were new to this node's log (a
    // follower learns an entry and its commit in one append).
    if (auto applied = apply_committed(ready.entries_to_apply, no_limit); !applied) {
        return stall(applied.error());
    }
    // 6. Reads, then 7. tell the core.
    finish_reads(ready);
    raft_.advance(ready);
    return true;
}

// Applies the entries with index < below that are not applied yet (a retry
// after a storage failure finds some already applied), answers their
// writers and publishes their events. The entries are committed and in this
// node's synced log, so the commit need not sync (storage.h).
Result<bool> Node::apply_committed(const std::vector<raft::Entry>& entries, raft::LogIndex below) {
    const raft::LogIndex applied = storage_->applied_index();
    auto first = std::find_if(entries.begin(), entries.end(),
                              [&](const raft::Entry& e) { return e.index > applied; });
    auto last = std::find_if(first, entries.end(),
                             [&](const raft::Entry& e) { return e.index >= below; });
    if (first == last) return true;
    auto staged = state_machine_.stage({first, last});
    if (!staged) return staged.error();
    auto committed = staged->txn.commit();
    if (!committed) return committed.error();
    // Re-applying after a restart publishes nothing up to recovering_to_:
    // those events went out when they first committed, and watch_from
    // serves them exactly.
    for (const Applied& a : staged->applied) {
        answer_write(a);
        if (a.index > recovering_to_ && !a.event.empty()) {
            send_frames(pub_, {wire::event_topic(a.key)}, a.event);
        }
    }
    flush_forward_replies();  // answers go out now, not after the next fsync
    if (recovering_to_ != 0 && !recovering()) {
        spdlog::info("node {}: recovered: re-applied the log up to {}", config_.id,
                     recovering_to_);
        recovering_to_ = 0;
    }
    return true;
}

void Node::answer_write(const Applied& applied) {
    auto it = writes_.find(applied.index);
    if (it == writes_.end()) return;
    Pending pending = std::move(it->second);
    writes_.erase(it);
    if (applied.term != pending.term || !applied.is_command) {
        // Another leader's entry won this index: ours was never applied.
        reply_error(pending.envelope, wire::error_unavailable,
                    "leadership changed before the write committed; it was not applied",
                    pending.request.id);
        return;
    }
    wire::ClientReply reply = applied.reply;
    reply.id = pending.request.id;
    this->reply(pending.envelope, std::move(reply));
}

void Node::finish_reads(const raft::Ready& ready) {
    for (const raft::ReadState& r : ready.reads_ready) {
        auto it = reads_.find(r.context.id);
        if (it == reads_.end()) continue;
        it->second.read_index = r.index;
        reads_ready_.emplace(r.index, std::move(it->second));
        reads_.erase(it);
    }
    for (const raft::ReadContext& c : ready.reads_failed) {
        auto it = reads_.find(c.id);
        if (it == reads_.end()) continue;
        reply_error(it->second.envelope, wire::error_no_leader,
                    "leadership was lost before the read was confirmed; retry",
                    it->second.request.id);
        reads_.erase(it);
    }
    serve_waiting_reads();
}

// Within the turn's serving budget: a crowd of confirmed range reads (each
// up to 4 MiB) must not hold the loop. The rest is served next turn.
void Node::serve_waiting_reads() {
    const raft::LogIndex applied = storage_->applied_index();
    const Clock::time_point start = Clock::now();
    auto it = reads_ready_.begin();
    while (it != reads_ready_.end() && it->first <= applied &&
           Clock::now() - start <= serve_time_per_turn_max) {
        serve_read(it->second);
        it = reads_ready_.erase(it);
    }
}

bool Node::reads_waiting() const {
    return !reads_ready_.empty() && reads_ready_.begin()->first <= storage_->applied_index();
}

}  // namespace cabildo::node
