// Membership changes, one server at a time (Raft thesis §4.1-4.2).
//
// A change is in force on each server as soon as its entry is in that
// server's log; the leader starts the next one only once the previous one is
// committed, so the memberships in use at any moment differ by at most one
// voter and every two majorities overlap. The 2015 fix (Ongaro, raft-dev,
// "bug in single-server membership changes"): a new leader changes the
// membership only after committing an entry of its own term, so that no
// change from an earlier term it has not seen can still commit.
#include <algorithm>

#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace cabildo::raft {

ChangeResult Raft::propose_membership(const Membership& next) {
    CABILDO_ASSERT(!ready_in_flight_, "propose_membership() between take_ready() and advance()");
    ChangeResult result;
    result.leader = leader_;
    result.status = check_change(next, result.detail);
    if (result.status != Status::ok) return result;
    result.index = log_.last_index() + 1;
    result.term = term_;
    log_.append(Entry{term_, result.index, EntryType::config, encode_membership(next)});
    sync_progress();
    broadcast_wanted_ = true;
    return result;
}

Status Raft::check_change(const Membership& next, std::string& detail) const {
    if (role_ != Role::leader) {
        detail = "not the leader";
        return Status::not_leader;
    }
    if (transfer_target_ != node_none) {
        detail = "leadership is being handed over";
        return Status::dropped;
    }
    if (!committed_in_current_term()) {
        detail = "the leader has not committed an entry of its term yet";
        return Status::dropped;
    }
    if (log_.membership_pending()) {
        detail = "the change at index " + std::to_string(log_.membership_index()) +
                 " is not committed yet";
        return Status::change_pending;
    }
    NodeId subject = node_none;
    switch (classify_change(membership(), next, &subject)) {
    case ChangeKind::none: detail = "the membership is already so"; return Status::bad_request;
    case ChangeKind::invalid:
        detail = "one change at a time: add, promote or remove one member";
        return Status::bad_request;
    case ChangeKind::promote: {
        const Progress& pr = progress_.at(subject);
        const LogIndex behind = log_.last_index() - std::min(pr.match_index, log_.last_index());
        if (pr.state != Progress::State::replicate || behind > config_.promote_lag_max) {
            detail = "learner " + std::to_string(subject) + " is " + std::to_string(behind) +
                     " entries behind (at most " + std::to_string(config_.promote_lag_max) +
                     " to be promoted)";
            return Status::lagging;
        }
        break;
    }
    case ChangeKind::add_voter:
    case ChangeKind::add_learner:
    case ChangeKind::remove:
    case ChangeKind::update: break;
    }
    if (next.voter_count() == 0) {
        detail = "the last voter cannot be removed";
        return Status::no_quorum;
    }
    if (!reachable_quorum(next)) {
        detail = "the new membership would have no quorum of voters this leader hears from";
        return Status::no_quorum;
    }
    return Status::ok;
}

// Would the voters of `next` that this leader heard from recently be a
// majority of them? Otherwise the change could never commit, and the
// cluster would be stuck with it.
bool Raft::reachable_quorum(const Membership& next) const {
    std::size_t reachable = 0;
    for (NodeId id : next.voters()) {
        if (id == config_.id) {
            ++reachable;
            continue;
        }
        auto it = progress_.find(id);
        if (it != progress_.end() && (it->second.recent_active || it->second.active_before)) {
            ++reachable;
        }
    }
    return reachable >= quorum_size(next.voter_count());
}

// Leader: every member in force gets a Progress. A removed member keeps its
// own until the removal commits, so it is sent the entry that removes it.
void Raft::sync_progress() {
    const Membership& m = membership();
    for (const Member& member : m.members) {
        if (member.id == config_.id) continue;
        progress_.try_emplace(member.id, Progress(log_.last_index() + 1));
    }
    if (log_.membership_pending()) return;
    std::erase_if(progress_, [&m](const auto& kv) { return !m.contains(kv.first); });
    if (transfer_target_ != node_none && !m.is_voter(transfer_target_)) {
        transfer_target_ = node_none;
    }
}

// A leader whose own removal (or demotion) is committed: it leads only
// until it has handed over.
bool Raft::removed_leader() const {
    return role_ == Role::leader && !is_voter(config_.id) && !log_.membership_pending();
}

// Thesis §4.2.2: once the membership without it commits, the leader hands
// leadership to the voter with the most of its log, then steps down.
std::pair<NodeId, LogIndex> Raft::most_caught_up_voter() const {
    std::pair<NodeId, LogIndex> best{node_none, 0};
    for (const auto& [id, pr] : progress_) {
        if (!is_voter(id)) continue;
        if (best.first == node_none || pr.match_index > best.second) best = {id, pr.match_index};
    }
    return best;
}

void Raft::hand_over_if_removed() {
    if (!removed_leader() || transfer_target_ != node_none) return;
    const auto [best, best_match] = most_caught_up_voter();
    transfer_target_ = best;
    election_elapsed_ = 0;  // given up (and the leader steps down) after a timeout
    if (best_match == log_.last_index()) {
        maybe_send_timeout_now(best);
    } else {
        send_append(best, true);
    }
}

}  // namespace cabildo::raft
