// Raft: the consensus core as a pure, deterministic state machine.
//
// It owns no socket, reads no clock, touches no disk and starts no thread. The
// shell drives it with tick(), step(), propose(), read_index() and
// transfer_leadership(), and collects what it asks for with take_ready();
// after doing that work (in the order Ready documents) it calls advance().
// The same inputs always give the same outputs: randomness comes from the Rng
// passed in, the durable log is read through a LogReader.
//
// What it implements: leader election with
// randomized timeouts and the election restriction (§5.2, §5.4.1); PreVote and
// CheckQuorum (thesis §9.6, §6.2); log replication with fast backtracking,
// flow control and pipelining (§5.3); the current-term commit rule (§5.4.2);
// a no-op entry at the start of each term (§8); ReadIndex (thesis §6.4);
// leadership transfer with TimeoutNow (thesis §3.10); log compaction and
// InstallSnapshot (§7): a follower that needs an entry the shell compacted
// away is sent the shell's latest snapshot; membership changes one server at
// a time (thesis §4.1, with the 2015 fix: a leader changes the membership
// only once it has committed an entry of its term), learners, and a removed
// leader handing over once its removal is committed.
//
// It is not: a network, a storage engine or a state machine. Proposals at a
// follower are refused with the leader's id; forwarding is the shell's job.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "node/raft/config.h"
#include "node/raft/log_reader.h"
#include "node/raft/progress.h"
#include "node/raft/raft_log.h"
#include "node/raft/result.h"
#include "node/raft/rng.h"
#include "node/raft/types.h"

namespace cabildo::raft {

struct ProposeResult {
    Status status = Status::ok;  // ok, not_leader or dropped
    LogIndex index = 0;          // where the command will commit, if it does
    Term term = 0;               // the entry's term: a different term at index means it was lost
    NodeId leader = node_none;   // hint when not_leader
};

struct ChangeResult {
    Status status = Status::ok;  // ok, not_leader, dropped, bad_request, not_found,
                                 // change_pending, lagging or no_quorum
    std::string detail{};        // why not, for the client
    LogIndex index = 0;          // ok: the configuration entry's index
    Term term = 0;
    NodeId leader = node_none;
};

struct ReadIndexResult {
    Status status = Status::ok;
    NodeId leader = node_none;
};

struct ProgressStatus {
    NodeId id = node_none;
    LogIndex match_index = 0;
    LogIndex next_index = 0;
    Progress::State state = Progress::State::probe;
    bool active = false;  // heard from within the last two election timeouts
};

// A read-only snapshot of the core's state, for the shell and for tests.
struct RaftStatus {
    NodeId id = node_none;
    Role role = Role::follower;
    Term term = 0;
    NodeId voted_for = node_none;
    NodeId leader = node_none;
    LogIndex commit_index = 0;
    LogIndex applied = 0;
    LogIndex last_index = 0;
    LogIndex persisted_index = 0;
    LogIndex first_index = 0;
    NodeId transfer_target = node_none;
    std::vector<ProgressStatus> progress;  // leader only
    Membership membership;                 // in force (the latest in the log)
    LogIndex membership_index = 0;
    bool membership_pending = false;       // its entry is not committed yet
};

class Raft {
public:
    // hard_state and log are what was durable at start; config.applied says
    // how far the state machine already is.
    Raft(const Config& config, const HardState& hard_state, const LogReader& log, Rng& rng);

    void tick();
    void step(const Message& message);
    ProposeResult propose(std::string command);
    // Leader: replace the membership by `next`, which must differ from the
    // one in force by one change (add a voter or a learner, promote a
    // learner, remove a member, change a member's context). It is in force
    // as soon as it is appended; the next change waits until it commits.
    ChangeResult propose_membership(const Membership& next);
    // Status ok: the read will come back in Ready::reads_ready (or
    // reads_failed if leadership is lost first). Otherwise not_leader (with
    // the leader hint) or dropped (too many reads pending).
    ReadIndexResult read_index(ReadContext context);
    Status transfer_leadership(NodeId to);
    // Leader's shell: the snapshot transfer to `to` ended. A failed one is
    // retried after the next probe; a delivered one waits for the answer.
    void report_snapshot(NodeId to, bool delivered);
    void campaign();  // start an election now (tests; a shell may use it too)

    bool has_ready() const;
    Ready take_ready();
    void advance(const Ready& ready);

    RaftStatus status() const;
    // Cheap accessors for the shell's hot path (status() copies progress).
    NodeId leader() const { return leader_; }
    const Membership& membership() const { return log_.membership(); }
    // The latest committed one: while a change is pending, its members
    // (a removed leader, say) still take part.
    const Membership& committed_membership() const { return log_.committed_membership(); }
    LogIndex membership_index() const { return log_.membership_index(); }
    bool membership_pending() const { return log_.membership_pending(); }
    NodeId transfer_target() const { return transfer_target_; }
    // Leader: the other voter whose log matches the most of ours, and how
    // far ({node_none, 0} if there is none): whom to hand leadership to.
    std::pair<NodeId, LogIndex> most_caught_up_voter() const;
    Role role() const { return role_; }
    Term term() const { return term_; }
    // LogCabin-style invariant check; aborts on a broken invariant.
    void check_invariants() const;

private:
    // raft.cc: dispatch and Ready.
    bool step_higher_term(const Message& m);
    void step_lower_term(const Message& m);
    void dispatch(const Message& m);
    void send(Message m);
    bool is_voter(NodeId id) const { return membership().is_voter(id); }
    bool may_campaign() const;
    bool won_election() const;
    void flush();

    // election.cc
    void tick_election();
    void tick_heartbeat();
    bool in_lease() const;
    void reset(Term term);
    void become_follower(Term term, NodeId leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    void campaign_election(bool transfer);
    void send_vote_requests(MessageType type, Term term, bool transfer);
    void handle_request_vote(const Message& m);
    void handle_vote_response(const Message& m);
    void handle_timeout_now(const Message& m);
    void check_quorum_active();
    std::size_t granted_votes(std::size_t* rejected) const;

    // membership_change.cc
    Status check_change(const Membership& next, std::string& detail) const;
    bool reachable_quorum(const Membership& next) const;
    void sync_progress();
    bool removed_leader() const;
    void hand_over_if_removed();

    // replication.cc
    bool send_append(NodeId to, bool send_if_empty);
    void send_snapshot(NodeId to, Progress& pr);
    void handle_install_snapshot(const Message& m);
    void tick_snapshots();
    void broadcast_append();
    void broadcast_append_commit();
    void become_follower_if_needed(NodeId leader);
    void send_heartbeat(NodeId to);
    void broadcast_heartbeat();
    void handle_append_entries(const Message& m);
    void handle_append_entries_response(const Message& m);
    void handle_append_rejection(const Message& m, Progress& pr);
    void handle_heartbeat(const Message& m);
    void handle_heartbeat_response(const Message& m);
    bool maybe_commit();
    void self_persisted(LogIndex index);

    // read_index.cc: ReadIndex and leadership transfer.
    void start_read(ReadContext context);
    void release_reads_waiting_commit();
    void check_reads_confirmed();
    void fail_pending_reads();
    void maybe_send_timeout_now(NodeId to);
    bool committed_in_current_term() const;

    Config config_;
    Rng& rng_;
    RaftLog log_;

    Role role_ = Role::follower;
    Term term_ = 0;
    NodeId voted_for_ = node_none;
    NodeId leader_ = node_none;

    int election_elapsed_ = 0;
    int heartbeat_elapsed_ = 0;
    int randomized_election_timeout_ = 0;

    std::map<NodeId, bool> votes_;          // candidate / pre-candidate
    std::map<NodeId, Progress> progress_;   // leader: every member but this one
    LogIndex persisted_index_ = 0;          // last entry durable on this node
    NodeId transfer_target_ = node_none;    // leader: leadership transfer under way

    struct PendingRead {
        ReadContext context;
        LogIndex index = 0;
        std::uint64_t round = 0;
    };
    std::uint64_t read_round_ = 0;          // leader: latest heartbeat round sent
    bool read_round_wanted_ = false;        // a read waits for the next round
    std::vector<PendingRead> pending_reads_;
    std::vector<ReadContext> reads_waiting_commit_;  // until the term's first commit
    std::vector<ReadState> reads_ready_;
    std::vector<ReadContext> reads_failed_;

    bool broadcast_wanted_ = false;  // leader: new entries to send at the next Ready
    std::vector<Message> messages_early_;  // see Ready::messages_early
    std::vector<Message> messages_;
    SoftState reported_soft_;
    HardState reported_hard_;
    bool ready_in_flight_ = false;  // between take_ready() and advance()
};

}  // namespace cabildo::raft
