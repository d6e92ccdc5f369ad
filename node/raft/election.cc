// Raft elections: timers, role changes, PreVote, vote handling and
// CheckQuorum (Raft §5.2, §5.4.1; thesis §6.2, §9.6, §3.10).
#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace cabildo::raft {

void Raft::tick_election() {
    ++election_elapsed_;
    if (election_elapsed_ >= randomized_election_timeout_ && may_campaign()) {
        election_elapsed_ = 0;
        campaign();
    }
}

void Raft::tick_heartbeat() {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    if (election_elapsed_ >= config_.election_timeout_ticks) {
        election_elapsed_ = 0;
        if (config_.check_quorum) {
            check_quorum_active();
            if (role_ != Role::leader) return;
        }
        // A removed leader whose successor did not catch up in time just
        // steps down; the voters elect one after their timeout.
        if (removed_leader()) {
            become_follower(term_, node_none);
            return;
        }
        // A transfer that did not finish within an election timeout is given
        // up, so the leader takes proposals again (thesis §3.10).
        transfer_target_ = node_none;
    }
    tick_snapshots();
    if (heartbeat_elapsed_ >= config_.heartbeat_interval_ticks) {
        heartbeat_elapsed_ = 0;
        broadcast_heartbeat();
    }
}

// Thesis §6.2: a leader that has not heard from a majority within an
// election timeout steps down, so clients stop waiting on it.
void Raft::check_quorum_active() {
    const Membership& m = membership();
    std::size_t active = m.is_voter(config_.id) ? 1 : 0;
    for (auto& [id, pr] : progress_) {
        if (pr.recent_active && m.is_voter(id)) ++active;
        pr.active_before = pr.recent_active;
        pr.recent_active = false;
    }
    if (active < quorum_size(m.voter_count())) become_follower(term_, node_none);
}

// The leader lease: we heard from a leader less than an election timeout ago.
bool Raft::in_lease() const {
    return config_.check_quorum && leader_ != node_none &&
           election_elapsed_ < config_.election_timeout_ticks;
}

void Raft::reset(Term term) {
    if (term_ != term) {
        term_ = term;
        voted_for_ = node_none;
    }
    leader_ = node_none;
    election_elapsed_ = 0;
    heartbeat_elapsed_ = 0;
    randomized_election_timeout_ = config_.election_timeout_ticks +
        static_cast<int>(rng_.uniform(static_cast<std::uint64_t>(config_.election_timeout_ticks)));
    votes_.clear();
    progress_.clear();
    transfer_target_ = node_none;
    broadcast_wanted_ = false;
    read_round_wanted_ = false;
}

void Raft::become_follower(Term term, NodeId leader) {
    if (role_ == Role::leader) fail_pending_reads();
    reset(term);
    role_ = Role::follower;
    leader_ = leader;
}

// Thesis §9.6: ask whether we could win before bumping the term.
void Raft::become_pre_candidate() {
    CABILDO_ASSERT(role_ != Role::leader, "leader cannot pre-campaign");
    // Unlike reset(), the term and vote stay as they are.
    role_ = Role::pre_candidate;
    leader_ = node_none;
    votes_.clear();
    votes_[config_.id] = true;
    send_vote_requests(MessageType::request_pre_vote, term_ + 1, false);
    if (won_election()) campaign_election(false);
}

void Raft::become_candidate() {
    CABILDO_ASSERT(role_ != Role::leader, "leader cannot campaign");
    reset(term_ + 1);
    role_ = Role::candidate;
    voted_for_ = config_.id;
    votes_[config_.id] = true;
}

void Raft::campaign_election(bool transfer) {
    become_candidate();
    send_vote_requests(MessageType::request_vote, term_, transfer);
    if (won_election()) become_leader();
}

void Raft::send_vote_requests(MessageType type, Term term, bool transfer) {
    for (NodeId id : membership().voters()) {
        if (id == config_.id) continue;
        send(Message{.type = type,
                     .to = id,
                     .term = term,
                     .last_log_index = log_.last_index(),
                     .last_log_term = log_.last_term(),
                     .transfer = transfer});
    }
}

void Raft::become_leader() {
    CABILDO_ASSERT(role_ == Role::candidate, "only a candidate becomes leader");
    reset(term_);
    role_ = Role::leader;
    leader_ = config_.id;
    sync_progress();
    // Raft §8: a no-op entry lets the leader commit (and learn the commit
    // index of) earlier terms' entries, which §5.4.2 forbids counting.
    log_.append(Entry{term_, log_.last_index() + 1, EntryType::noop, {}});
    broadcast_wanted_ = true;
}

void Raft::handle_request_vote(const Message& m) {
    const bool pre_vote = m.type == MessageType::request_pre_vote;
    // A pre-vote for a future term may be granted even after voting in this
    // one: it changes nothing.
    const bool can_vote = voted_for_ == m.from ||
                          (voted_for_ == node_none && leader_ == node_none) ||
                          (pre_vote && m.term > term_);
    const MessageType response =
        pre_vote ? MessageType::request_pre_vote_response : MessageType::request_vote_response;
    // Raft §5.4.1, the election restriction.
    if (can_vote && log_.is_up_to_date(m.last_log_index, m.last_log_term)) {
        // A pre-vote answer carries the term the candidate would use, so the
        // candidate does not take it for a stale message.
        send(Message{.type = response, .to = m.from, .term = m.term, .granted = true});
        if (!pre_vote) {
            election_elapsed_ = 0;
            voted_for_ = m.from;
        }
    } else {
        send(Message{.type = response, .to = m.from, .term = term_, .granted = false});
    }
}

void Raft::handle_vote_response(const Message& m) {
    const bool pre_vote = m.type == MessageType::request_pre_vote_response;
    if (!(pre_vote && role_ == Role::pre_candidate) && !(!pre_vote && role_ == Role::candidate)) {
        return;  // an answer to a campaign that is over
    }
    votes_.emplace(m.from, m.granted);
    std::size_t rejected = 0;
    const std::size_t granted = granted_votes(&rejected);
    switch (tally_votes(membership().voter_count(), granted, rejected)) {
    case VoteResult::won:
        if (pre_vote) {
            campaign_election(false);
        } else {
            become_leader();
        }
        return;
    case VoteResult::lost: become_follower(term_, node_none); return;
    case VoteResult::pending: return;
    }
}

// A voter campaigns; so does a node whose removal is in its log but not yet
// committed (thesis §4.2.2): it may be the only one holding that entry, and
// the new voters elect it (or another with the entry) to commit it. Votes
// are always counted in the latest membership, which it is not part of.
bool Raft::may_campaign() const {
    return is_voter(config_.id) ||
           (log_.membership_pending() && log_.committed_membership().is_voter(config_.id));
}

bool Raft::won_election() const {
    std::size_t rejected = 0;
    const std::size_t granted = granted_votes(&rejected);
    return tally_votes(membership().voter_count(), granted, rejected) == VoteResult::won;
}

// Only the votes of voters in force count: a node's membership may change
// while it campaigns, and anyone may answer.
std::size_t Raft::granted_votes(std::size_t* rejected) const {
    std::size_t granted = 0;
    *rejected = 0;
    for (const auto& [id, vote] : votes_) {
        if (!is_voter(id)) continue;
        (vote ? granted : *rejected) += 1;
    }
    return granted;
}

// Thesis §3.10: the leader asks us to take over; skip PreVote and the lease.
void Raft::handle_timeout_now(const Message& m) {
    (void)m;
    if (may_campaign()) campaign_election(true);
}

}  // namespace cabildo::raft
