// Node: the steps of the Ready cycle (ready_cycle.h) with LMDB, the log and
// the sockets; retrying a Ready that storage could not complete; reads.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/frames.h"
#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {
constexpr auto stalled_retry_interval = std::chrono::milliseconds(500);
}  // namespace

void Node::process_ready() {
    const bool was_stalled = cycle_.stalled();
    if (was_stalled && Clock::now() < stalled_retry_at_) return;
    // Past the turn's budget the rest waits for the next turn, which starts
    // after a poll that does not wait: applying a long log (a restart, a
    // lagging follower) yields to ticks, votes and requests.
    auto error =
        cycle_.run([&] { return Clock::now() - turn_start_ <= ready_time_per_turn_max; });
    if (error) {
        on_storage_failure(*error, was_stalled);
    } else if (was_stalled) {
        spdlog::info("node {}: storage works again, resuming", config_.id);
    }
}

void Node::on_storage_failure(const Error& error, bool was_stalled) {
    // The map must grow and a snapshot pins it: the snapshot gives way (it
    // is taken again later), and the Ready is retried at once.
    if (error.status == Status::unavailable && snapshot_taker_.running()) {
        snapshot_taker_.cancel();
        spdlog::info("node {}: cancelled a snapshot so that the state's map can grow",
                     config_.id);
        stalled_retry_at_ = Clock::now();
        return;
    }
    if (!was_stalled) {
        spdlog::error("node {}: storage failed ({}): {}; writes stop until it recovers",
                      config_.id, status_name(error.status), error.detail);
    }
    stalled_retry_at_ = Clock::now() + stalled_retry_interval;
}

Result<bool> Node::persist(const std::optional<raft::HardState>& hard_state,
                           const std::vector<raft::Entry>& entries) {
    const auto start = Clock::now();
    auto persisted = storage_->persist(hard_state, entries);
    const auto took = Clock::now() - start;
    persist_time_in_turn_ += took;
    metrics_.fsync.observe(took);
    metrics_.rates.fsynced(took);
    metrics_.persisted_entries.observe(static_cast<double>(entries.size()));
    warn_if_slow_fsync(took, entries.size());
    return persisted;
}

void Node::warn_if_slow_fsync(Clock::duration took, std::size_t entries) {
    if (took < std::chrono::milliseconds(config_.slow_fsync_ms)) return;
    ++metrics_.slow_fsyncs;
    const auto now = Clock::now();
    if (now < next_fsync_warning_) return;
    next_fsync_warning_ = now + std::chrono::seconds(1);
    spdlog::warn("node {}: a log sync took {} ms ({} entries; over --slow-fsync-ms {}): a slow "
                 "or busy disk delays every write (slow syncs so far: {})",
                 config_.id,
                 std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), entries,
                 config_.slow_fsync_ms, metrics_.slow_fsyncs);
}

void Node::send(const raft::Message& message) {
    PeerTraffic& traffic = metrics_.sent_to[message.to];
    ++traffic.messages;
    traffic.entries += message.entries.size();
    for (const raft::Entry& e : message.entries) traffic.bytes += e.data.size();
    if (message.type == raft::MessageType::install_snapshot) begin_transfer(message);
    peers_.send(message);
}

void Node::finish(const raft::Ready& ready) {
    // The Ready after install_snapshot was stepped holds the snapshot if the
    // core restores it; if not (its log held the entry), the staged state
    // is not needed.
    if (!ready.snapshot) staged_.reset();
    if (ready.soft_state) {
        spdlog::info("node {}: {} in term {} (leader {})", config_.id,
                     raft::role_name(ready.soft_state->role), raft_.term(),
                     ready.soft_state->leader);
    }
    finish_reads(ready);
}

// Applies committed entries in one transaction, answers their writers and
// publishes their events.
Result<bool> Node::apply(std::span<const raft::Entry> entries) {
    metrics_.applied_entries.observe(static_cast<double>(entries.size()));
    auto staged = state_machine_.stage(entries);
    if (!staged) return staged.error();
    auto committed = staged->txn.commit();
    if (!committed) return committed.error();
    // Re-applying after a restart publishes nothing up to recovering_to_:
    // those events went out when they first committed, and watch_from
    // serves them exactly.
    const Clock::time_point now = Clock::now();
    for (const Applied& a : staged->applied) {
        if (a.membership) note_applied_membership(*a.membership, a.index);
        note_lease_changes(a, now);
        answer_write(a);
        note_wakes(a);
        if (a.index <= recovering_to_) continue;
        for (const EventOut& event : a.events) {
            const std::string published = security_.public_event(event.event);
            if (!published.empty()) send_frames(pub_, {wire::event_topic(event.key)}, published);
        }
        publish_queue_ready(a);
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
    if (wire::is_member_change(pending.request.op)) {
        answer_change(std::move(pending), applied);
        return;
    }
    if (applied.term != pending.term || !applied.is_command) {
        // Another leader's entry won this index: ours was never applied.
        answer_lost_entry(pending);
        return;
    }
    if (hold_if_waiting(pending, applied)) return;
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
