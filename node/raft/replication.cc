// Raft log replication: AppendEntries, heartbeats, fast backtracking, flow
// control and the commit rule (Raft §5.3, §5.4.2).
#include <algorithm>

#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace cabildo::raft {

// Sends the follower its next entries, if flow control allows. Returns true
// if a message went out.
bool Raft::send_append(NodeId to, bool send_if_empty) {
    Progress& pr = progress_.at(to);
    if (pr.is_paused(config_.inflight_appends_max)) return false;
    const LogIndex prev_log_index = pr.next_index - 1;
    const auto prev_log_term = log_.term_at(prev_log_index);
    if (!prev_log_term || pr.next_index < log_.first_index()) {
        send_snapshot(to, pr);  // §7: what it needs next was compacted away
        return true;
    }
    std::vector<Entry> entries;
    if (pr.next_index <= log_.last_index()) {
        entries = log_.entries(pr.next_index, log_.last_index() + 1,
                               config_.entries_per_append_max, config_.append_bytes_max);
    }
    if (entries.empty() && !send_if_empty) return false;
    const LogIndex last = entries.empty() ? prev_log_index : entries.back().index;
    pr.sent_append(last, entries.size());
    send(Message{.type = MessageType::append_entries,
                 .to = to,
                 .prev_log_index = prev_log_index,
                 .prev_log_term = *prev_log_term,
                 .entries = std::move(entries),
                 .leader_commit = log_.commit_index(),
                 .read_round = read_round_});
    return true;
}

void Raft::send_snapshot(NodeId to, Progress& pr) {
    const SnapshotMeta snapshot = log_.snapshot();
    CABILDO_ASSERT(snapshot.index + 1 >= log_.first_index(), "compacted past the latest snapshot");
    pr.become_snapshot(snapshot.index);
    send(Message{.type = MessageType::install_snapshot, .to = to, .snapshot = snapshot});
}

void Raft::report_snapshot(NodeId to, bool delivered) {
    CABILDO_ASSERT(!ready_in_flight_, "report_snapshot() between take_ready() and advance()");
    auto it = progress_.find(to);
    if (role_ != Role::leader || it == progress_.end()) return;
    if (it->second.state == Progress::State::snapshot && !delivered) it->second.become_probe();
}

// Leader tick: a snapshot that was not answered in time is sent again.
void Raft::tick_snapshots() {
    for (auto& [id, pr] : progress_) {
        if (pr.state != Progress::State::snapshot) continue;
        if (++pr.snapshot_ticks >= config_.snapshot_timeout_ticks) pr.become_probe();
    }
}

void Raft::broadcast_append() {
    for (auto& [id, pr] : progress_) {
        // Pipelining: a follower that keeps up gets several appends at once.
        while (send_append(id, false)) {
        }
    }
}

void Raft::send_heartbeat(NodeId to) {
    const Progress& pr = progress_.at(to);
    // The follower may not hold everything we have committed: tell it to
    // commit only what it is known to hold.
    send(Message{.type = MessageType::heartbeat,
                 .to = to,
                 .leader_commit = std::min(pr.match_index, log_.commit_index()),
                 .read_round = read_round_});
}

void Raft::broadcast_heartbeat() {
    for (const auto& [id, pr] : progress_) send_heartbeat(id);
}

void Raft::handle_append_entries(const Message& m) {
    become_follower_if_needed(m.from);
    Message response{.type = MessageType::append_entries_response,
                     .to = m.from,
                     .read_round = m.read_round};
    if (m.prev_log_index < log_.commit_index()) {
        // Everything up to our commit index matches any leader's log (§5.4).
        response.success = true;
        response.match_index = log_.commit_index();
    } else if (log_.match_term(m.prev_log_index, m.prev_log_term)) {
        const LogIndex last_new = log_.append_after(m.prev_log_index, m.entries);
        // A truncated suffix is no longer durable on this node.
        persisted_index_ = std::min(persisted_index_, log_.first_unstable_index() - 1);
        log_.commit_to(std::min(m.leader_commit, last_new));
        response.success = true;
        response.match_index = last_new;
    } else {
        // Fast backtracking: point the leader at the last index that might
        // still match, instead of letting it walk back one entry per RPC.
        const LogIndex hint_index =
            log_.find_conflict_by_term(std::min(m.prev_log_index, log_.last_index()),
                                       m.prev_log_term);
        response.reject_index = m.prev_log_index;
        response.hint_index = hint_index;
        response.hint_term = log_.term_at(hint_index).value_or(0);
    }
    send(std::move(response));
}

// §7: the snapshot replaces the whole log unless the log already holds its
// last entry. One at or below the commit index is old news: installing it
// would take the state machine back.
void Raft::handle_install_snapshot(const Message& m) {
    become_follower_if_needed(m.from);
    Message response{.type = MessageType::append_entries_response,
                     .to = m.from,
                     .success = true,
                     .read_round = m.read_round};
    const SnapshotMeta& s = m.snapshot;
    if (s.index <= log_.commit_index()) {
        response.match_index = log_.commit_index();
    } else if (log_.match_term(s.index, s.term)) {
        log_.commit_to(s.index);  // the log holds it: commit it, keep what follows
        response.match_index = s.index;
    } else {
        log_.restore(s);
        persisted_index_ = 0;  // until the shell installed it (advance)
        response.match_index = s.index;
    }
    send(std::move(response));
}

void Raft::handle_append_entries_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end()) return;  // not (or no longer) a member
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.read_round_acked = std::max(pr.read_round_acked, m.read_round);
    check_reads_confirmed();
    if (!m.success) {
        handle_append_rejection(m, pr);
        return;
    }
    const bool was_paused = pr.is_paused(config_.inflight_appends_max);
    if (!pr.maybe_update(m.match_index)) return;
    if (pr.state == Progress::State::probe ||
        (pr.state == Progress::State::snapshot && pr.match_index >= pr.pending_snapshot)) {
        pr.become_replicate();
    }
    if (maybe_commit()) {
        if (role_ != Role::leader) return;  // a removed leader handed over
        broadcast_append_commit();
    } else if (was_paused) {
        send_append(m.from, false);
    }
    while (send_append(m.from, false)) {
    }
    maybe_send_timeout_now(m.from);
}

void Raft::handle_append_rejection(const Message& m, Progress& pr) {
    LogIndex match_hint = m.hint_index;
    if (m.hint_term > 0) match_hint = log_.find_conflict_by_term(m.hint_index, m.hint_term);
    if (!pr.maybe_decrease_to(m.reject_index, match_hint)) return;
    if (pr.state == Progress::State::replicate) pr.become_probe();
    send_append(m.from, true);
}

// An append or heartbeat of our term comes from its one leader (§5.2).
void Raft::become_follower_if_needed(NodeId leader) {
    if (role_ != Role::follower) become_follower(term_, leader);
    leader_ = leader;
    election_elapsed_ = 0;
}

void Raft::handle_heartbeat(const Message& m) {
    become_follower_if_needed(m.from);
    log_.commit_to(std::min(m.leader_commit, log_.last_index()));
    send(Message{.type = MessageType::heartbeat_response, .to = m.from, .read_round = m.read_round});
}

void Raft::handle_heartbeat_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end()) return;
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.probe_sent = false;  // resume a probe whose answer may have been lost
    pr.free_first_inflight_if_full(config_.inflight_appends_max);
    pr.read_round_acked = std::max(pr.read_round_acked, m.read_round);
    check_reads_confirmed();
    if (pr.match_index < log_.last_index()) send_append(m.from, true);
}

// Raft §5.3, §5.4.2: commit the highest index a majority holds, but only by
// counting replicas of an entry of the current term.
// Only the voters in force count, the leader too only if it is one (thesis
// §4.2.2: a leader removing itself commits with the new voters alone).
bool Raft::maybe_commit() {
    std::vector<std::uint64_t> match;
    for (NodeId id : membership().voters()) {
        match.push_back(id == config_.id ? persisted_index_ : progress_.at(id).match_index);
    }
    if (match.empty()) return false;
    const LogIndex index = quorum_value(std::move(match));
    if (index <= log_.commit_index() || !log_.match_term(index, term_)) return false;
    const bool was_pending = log_.membership_pending();
    log_.commit_to(index);
    if (was_pending && !log_.membership_pending()) {
        // Members it removes learn of the commit before their Progress goes
        // (and with it every message to them): they stop taking part.
        broadcast_append_commit();
        sync_progress();
    }
    release_reads_waiting_commit();
    hand_over_if_removed();
    return true;
}

// The leader's own entries count toward a majority only once durable.
void Raft::self_persisted(LogIndex index) {
    persisted_index_ = std::max(persisted_index_, index);
    if (role_ == Role::leader && maybe_commit()) broadcast_append_commit();
}

// Tell followers about a new commit index without waiting for the next
// heartbeat, so their state machines (and serializable reads) keep up.
void Raft::broadcast_append_commit() {
    for (auto& [id, pr] : progress_) send_append(id, true);
}

}  // namespace cabildo::raft
