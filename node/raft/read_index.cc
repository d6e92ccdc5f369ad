// ReadIndex (thesis §6.4) and leadership transfer (thesis §3.10).
//
// A read is linearizable without touching the log: the leader notes its
// commit index, then confirms it is still leader by a heartbeat round that a
// majority answers; once the state machine has applied that index, the read
// may be served. Rounds are numbered; a follower echoes the round of the
// latest heartbeat or append it saw, so one round confirms every read that
// was waiting for it, and a lost heartbeat is covered by the next one.
#include <algorithm>

#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace cabildo::raft {

ReadIndexResult Raft::read_index(ReadContext context) {
    CABILDO_ASSERT(!ready_in_flight_, "read_index() between take_ready() and advance()");
    if (role_ != Role::leader) return {Status::not_leader, leader_};
    if (pending_reads_.size() + reads_waiting_commit_.size() >= config_.pending_reads_max) {
        return {Status::dropped, leader_};
    }
    // Until the leader commits an entry of its term, its commit index may be
    // behind the cluster's (thesis §6.4 step 1): wait for the no-op.
    if (!committed_in_current_term()) {
        reads_waiting_commit_.push_back(context);
    } else {
        start_read(context);
    }
    return {Status::ok, leader_};
}

bool Raft::committed_in_current_term() const {
    return log_.match_term(log_.commit_index(), term_);
}

void Raft::start_read(ReadContext context) {
    // The round is the next one sent: only answers to a heartbeat sent after
    // this read arrived can confirm it.
    pending_reads_.push_back(PendingRead{context, log_.commit_index(), read_round_ + 1});
    read_round_wanted_ = true;
}

void Raft::release_reads_waiting_commit() {
    if (reads_waiting_commit_.empty() || !committed_in_current_term()) return;
    for (ReadContext context : reads_waiting_commit_) start_read(context);
    reads_waiting_commit_.clear();
}

void Raft::check_reads_confirmed() {
    if (pending_reads_.empty()) return;
    std::vector<std::uint64_t> rounds;
    for (NodeId id : membership().voters()) {
        rounds.push_back(id == config_.id ? read_round_ : progress_.at(id).read_round_acked);
    }
    const std::uint64_t confirmed = quorum_value(std::move(rounds));
    auto first_unconfirmed =
        std::find_if(pending_reads_.begin(), pending_reads_.end(),
                     [confirmed](const PendingRead& r) { return r.round > confirmed; });
    for (auto it = pending_reads_.begin(); it != first_unconfirmed; ++it) {
        reads_ready_.push_back(ReadState{it->context, it->index});
    }
    pending_reads_.erase(pending_reads_.begin(), first_unconfirmed);
}

void Raft::fail_pending_reads() {
    for (const PendingRead& r : pending_reads_) reads_failed_.push_back(r.context);
    reads_failed_.insert(reads_failed_.end(), reads_waiting_commit_.begin(),
                         reads_waiting_commit_.end());
    pending_reads_.clear();
    reads_waiting_commit_.clear();
}

Status Raft::transfer_leadership(NodeId to) {
    CABILDO_ASSERT(!ready_in_flight_, "transfer_leadership() between take_ready() and advance()");
    if (role_ != Role::leader) return Status::not_leader;
    if (to == config_.id) return Status::ok;
    if (!is_voter(to)) return Status::bad_request;
    transfer_target_ = to;
    election_elapsed_ = 0;  // the transfer is given up after an election timeout
    Progress& pr = progress_.at(to);
    if (pr.match_index == log_.last_index()) {
        maybe_send_timeout_now(to);
    } else {
        send_append(to, true);
    }
    return Status::ok;
}

// Once the target holds our whole log, tell it to campaign at once. A
// removed leader then steps down: it has no part in the new membership.
void Raft::maybe_send_timeout_now(NodeId to) {
    if (transfer_target_ != to || progress_.at(to).match_index != log_.last_index()) return;
    send(Message{.type = MessageType::timeout_now, .to = to});
    // The node it hands over to is the one to send clients to (a hint: the
    // new leader never writes to a removed node).
    if (removed_leader()) become_follower(term_, to);
}

}  // namespace cabildo::raft
