// Raft: construction, the step() dispatch and the Ready cycle; see raft.h.
// Elections live in election.cc, replication in replication.cc, ReadIndex and
// leadership transfer in read_index.cc.
#include "node/raft/raft.h"

#include <algorithm>

namespace cabildo::raft {

Raft::Raft(const Config& config, const HardState& hard_state, const LogReader& log, Rng& rng)
    : config_(config),
      rng_(rng),
      log_(log, hard_state.commit_index, std::max(config.applied, log.first_index() - 1),
           config.membership),
      term_(hard_state.term),
      voted_for_(hard_state.voted_for),
      persisted_index_(log.last_index()),
      reported_hard_(hard_state) {
    CABILDO_ASSERT(config.id != node_none, "node id 0 is reserved");
    CABILDO_ASSERT(config.applied + 1 >= log.first_index(),
                   "the state machine is behind the compacted log: restore the snapshot first");
    CABILDO_ASSERT(config.election_timeout_ticks > config.heartbeat_interval_ticks,
                   "election timeout must exceed the heartbeat interval");
    CABILDO_ASSERT(config.inflight_appends_max > 0, "inflight_appends_max is 0");
    CABILDO_ASSERT(config.entries_per_append_max > 0, "entries_per_append_max is 0");
    become_follower(term_, node_none);
    reported_soft_ = SoftState{role_, leader_};
}

void Raft::tick() {
    CABILDO_ASSERT(!ready_in_flight_, "tick() between take_ready() and advance()");
    if (role_ == Role::leader) {
        tick_heartbeat();
    } else {
        tick_election();
    }
}

void Raft::step(const Message& m) {
    CABILDO_ASSERT(!ready_in_flight_, "step() between take_ready() and advance()");
    // Messages to someone else carry nothing we may act on; the shell
    // validates them, this is a second line. Senders outside our membership
    // are heard: a node joining learns the membership from its leader, and a
    // leader hears the members it added before they know they are members.
    // Only voters' votes count (tally), only members' answers are tracked.
    if (m.from == config_.id || m.from == node_none || m.to != config_.id) return;
    if (m.term > term_) {
        if (!step_higher_term(m)) return;
    } else if (m.term < term_) {
        step_lower_term(m);
        return;
    }
    dispatch(m);
}

// A message from a higher term. Returns false if it must be ignored.
bool Raft::step_higher_term(const Message& m) {
    const bool vote_request =
        m.type == MessageType::request_vote || m.type == MessageType::request_pre_vote;
    // Thesis §4.2.3 / §9.6: while we hear from a leader, a vote request is
    // ignored (unless a leadership transfer asked for it), so a node that was
    // cut off cannot depose a healthy leader.
    if (vote_request && !m.transfer && in_lease()) return false;
    // A pre-vote does not change anyone's term.
    if (m.type == MessageType::request_pre_vote) return true;
    if (m.type == MessageType::request_pre_vote_response && m.granted) return true;
    const bool from_leader = m.type == MessageType::append_entries ||
                             m.type == MessageType::heartbeat ||
                             m.type == MessageType::install_snapshot;
    become_follower(m.term, from_leader ? m.from : node_none);
    return true;
}

// A message from an older term is ignored (its sender learns our term from
// any answer), as etcd's Step does. Two answers are still useful.
void Raft::step_lower_term(const Message& m) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::append_entries || m.type == MessageType::heartbeat ||
         m.type == MessageType::install_snapshot)) {
        // A leader that was cut off (and whose followers ignore its vote
        // requests under PreVote/CheckQuorum) must learn the newer term to
        // step down.
        send(Message{.type = MessageType::append_entries_response, .to = m.from});
    } else if (m.type == MessageType::request_pre_vote) {
        send(Message{.type = MessageType::request_pre_vote_response, .to = m.from});
    }
}

void Raft::dispatch(const Message& m) {
    switch (m.type) {
    case MessageType::request_vote:
    case MessageType::request_pre_vote: handle_request_vote(m); return;
    case MessageType::request_vote_response:
    case MessageType::request_pre_vote_response: handle_vote_response(m); return;
    case MessageType::append_entries:
        if (role_ != Role::leader) handle_append_entries(m);
        return;
    case MessageType::append_entries_response:
        if (role_ == Role::leader) handle_append_entries_response(m);
        return;
    case MessageType::heartbeat:
        if (role_ != Role::leader) handle_heartbeat(m);
        return;
    case MessageType::heartbeat_response:
        if (role_ == Role::leader) handle_heartbeat_response(m);
        return;
    case MessageType::timeout_now:
        if (role_ != Role::leader) handle_timeout_now(m);
        return;
    case MessageType::install_snapshot:
        if (role_ != Role::leader) handle_install_snapshot(m);
        return;
    }
}

void Raft::send(Message m) {
    m.from = config_.id;
    if (m.term == 0) m.term = term_;
    const bool early = role_ == Role::leader && (m.type == MessageType::append_entries ||
                                                 m.type == MessageType::heartbeat ||
                                                 m.type == MessageType::timeout_now);
    (early ? messages_early_ : messages_).push_back(std::move(m));
}

ProposeResult Raft::propose(std::string command) {
    CABILDO_ASSERT(!ready_in_flight_, "propose() between take_ready() and advance()");
    if (role_ != Role::leader) return {Status::not_leader, 0, 0, leader_};
    // Thesis §3.10: stop taking commands while handing leadership over.
    if (transfer_target_ != node_none) return {Status::dropped, 0, 0, leader_};
    if (log_.last_index() - log_.commit_index() >= config_.uncommitted_entries_max) {
        return {Status::dropped, 0, 0, leader_};
    }
    const LogIndex index = log_.last_index() + 1;
    log_.append(Entry{term_, index, EntryType::normal, std::move(command)});
    broadcast_wanted_ = true;
    return {Status::ok, index, term_, leader_};
}

void Raft::campaign() {
    CABILDO_ASSERT(!ready_in_flight_, "campaign() between take_ready() and advance()");
    if (role_ == Role::leader) return;
    if (!may_campaign()) return;
    if (config_.pre_vote) {
        become_pre_candidate();
    } else {
        campaign_election(false);
    }
}

// Work deferred so that a burst of proposals or reads becomes one append and
// one heartbeat round per follower.
void Raft::flush() {
    if (role_ != Role::leader) {
        broadcast_wanted_ = false;
        read_round_wanted_ = false;
        return;
    }
    if (broadcast_wanted_) {
        broadcast_wanted_ = false;
        broadcast_append();
    }
    if (read_round_wanted_) {
        read_round_wanted_ = false;
        ++read_round_;
        broadcast_heartbeat();
        check_reads_confirmed();  // a single-node cluster confirms at once
    }
}

bool Raft::has_ready() const {
    return broadcast_wanted_ || read_round_wanted_ || !messages_.empty() ||
           !messages_early_.empty() ||
           !log_.unstable().empty() || log_.has_entries_to_apply() || !reads_ready_.empty() ||
           log_.pending_snapshot().has_value() ||
           !reads_failed_.empty() || SoftState{role_, leader_} != reported_soft_ ||
           HardState{term_, voted_for_, log_.commit_index()} != reported_hard_;
}

Ready Raft::take_ready() {
    CABILDO_ASSERT(!ready_in_flight_, "take_ready() twice without advance()");
    flush();
    Ready ready;
    const SoftState soft{role_, leader_};
    if (soft != reported_soft_) ready.soft_state = soft;
    const HardState hard{term_, voted_for_, log_.commit_index()};
    if (hard != reported_hard_) ready.hard_state = hard;
    ready.snapshot = log_.pending_snapshot();
    ready.entries_to_persist = log_.unstable();
    ready.messages_early = std::move(messages_early_);
    messages_early_.clear();
    ready.messages = std::move(messages_);
    messages_.clear();
    ready.entries_to_apply = log_.entries_to_apply(config_.apply_bytes_max);
    ready.reads_ready = std::move(reads_ready_);
    reads_ready_.clear();
    ready.reads_failed = std::move(reads_failed_);
    reads_failed_.clear();
    ready_in_flight_ = true;
    return ready;
}

void Raft::advance(const Ready& ready) {
    CABILDO_ASSERT(ready_in_flight_, "advance() without take_ready()");
    ready_in_flight_ = false;
    if (ready.soft_state) reported_soft_ = *ready.soft_state;
    if (ready.hard_state) reported_hard_ = *ready.hard_state;
    if (ready.snapshot) {
        log_.snapshot_installed();
        persisted_index_ = std::max(persisted_index_, ready.snapshot->index);
    }
    if (!ready.entries_to_persist.empty()) {
        const Entry& last = ready.entries_to_persist.back();
        log_.stable_to(last.index, last.term);
        self_persisted(last.index);
    }
    if (!ready.entries_to_apply.empty()) log_.applied_to(ready.entries_to_apply.back().index);
}

RaftStatus Raft::status() const {
    RaftStatus s{config_.id,       role_,        term_,      voted_for_,       leader_,
                 log_.commit_index(), log_.applied(), log_.last_index(), persisted_index_,
                 log_.first_index(), transfer_target_,  {}, {}, 0, false};
    for (const auto& [id, pr] : progress_) {
        s.progress.push_back(
            {id, pr.match_index, pr.next_index, pr.state, pr.recent_active || pr.active_before});
    }
    s.membership = membership();
    s.membership_index = log_.membership_index();
    s.membership_pending = log_.membership_pending();
    return s;
}

void Raft::check_invariants() const {
    CABILDO_ASSERT(log_.applied() <= log_.commit_index(), "applied > commit");
    CABILDO_ASSERT(log_.commit_index() <= log_.last_index(), "commit > last index");
    CABILDO_ASSERT(persisted_index_ <= log_.last_index(), "persisted > last index");
    CABILDO_ASSERT(log_.first_index() <= log_.applied() + 1, "entries not applied were compacted");
    CABILDO_ASSERT(role_ != Role::leader || leader_ == config_.id, "leader not leading");
    CABILDO_ASSERT(role_ != Role::candidate || voted_for_ == config_.id,
                   "candidate did not vote for itself");
    CABILDO_ASSERT(role_ == Role::leader || progress_.empty(), "progress kept by non-leader");
    for (const auto& [id, pr] : progress_) {
        CABILDO_ASSERT(pr.match_index < pr.next_index, "match >= next");
        CABILDO_ASSERT(pr.match_index <= log_.last_index(), "match beyond our log");
    }
}

const char* role_name(Role role) {
    switch (role) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre_candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
    }
    return "unknown";
}

const char* message_type_name(MessageType type) {
    switch (type) {
    case MessageType::request_vote: return "request_vote";
    case MessageType::request_vote_response: return "request_vote_response";
    case MessageType::request_pre_vote: return "request_pre_vote";
    case MessageType::request_pre_vote_response: return "request_pre_vote_response";
    case MessageType::append_entries: return "append_entries";
    case MessageType::append_entries_response: return "append_entries_response";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::heartbeat_response: return "heartbeat_response";
    case MessageType::timeout_now: return "timeout_now";
    case MessageType::install_snapshot: return "install_snapshot";
    }
    return "unknown";
}

}  // namespace cabildo::raft
