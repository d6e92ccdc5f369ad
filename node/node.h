// Node: the cabildo-node daemon, the single-threaded I/O shell around the
// Raft core (ARCHITECTURE.md "A node").
//
// One thread and one zmq::poll loop own the core, the sockets and the LMDB
// writes. Each turn: poll until the next tick; turn elapsed time into
// tick()s; decode inbound frames through wire/ and step() the core; then,
// while it has work, persist the Ready (synced), send its messages, apply
// its committed entries and serve its reads, and advance().
//
// Any node serves any request: the leader proposes writes and confirms
// linearizable reads with ReadIndex; a follower forwards both to the leader
// over a DEALER and relays the answer; serializable reads and status are
// answered locally. The shell holds no Raft logic: it never looks at terms
// except to tell whether a proposal's entry is the one that got applied.
//
// If storage cannot make a Ready durable (full disk), the node stops taking
// peer messages and writes, answers `storage_full`, and retries; it never
// sends anything that depends on what it could not persist.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <zmq.hpp>

#include "node/connection_monitor.h"
#include "node/lease_clock.h"
#include "node/node_config.h"
#include "node/node_metrics.h"
#include "node/node_security.h"
#include "node/peer_transport.h"
#include "node/raft/raft.h"
#include "node/ready_cycle.h"
#include "node/snapshot_transfer.h"
#include "node/state_machine.h"
#include "storage/snapshot_taker.h"
#include "storage/storage.h"
#include "wire/client_messages.h"
#include "wire/metrics/http_exporter.h"

namespace cabildo::node {

// The node is the Ready cycle's shell (ready_cycle.h): the cycle decides the
// order, the node does each step with LMDB, its log and its sockets.
class Node : private ReadyShell {
public:
    Node(const NodeConfig& config, std::unique_ptr<storage::Storage> storage);
    ~Node() override;

    // Serves until stop is set (by a signal handler). Returns the exit status.
    // Tests only: while *fail_storage is non-zero every storage commit fails
    // (as with a full or broken disk); see --test-fault-injection.
    // reload_acl: set by SIGHUP; the loop reads the ACL file again and clears it.
    int run(const std::atomic<bool>& stop, const std::atomic<int>* fail_storage = nullptr,
            std::atomic<bool>* reload_acl = nullptr);

private:
    using Clock = std::chrono::steady_clock;
    // The frames before the request body, and what metrics need to know of
    // the request when it is answered: its op and when it arrived (zero:
    // not a client request).
    struct Envelope : std::vector<std::string> {
        using std::vector<std::string>::vector;
        std::uint8_t op = op_unknown;
        Clock::time_point received{};
    };

    struct Pending {
        Envelope envelope;
        wire::ClientRequest request;
        Clock::time_point deadline;
        raft::Term term = 0;           // writes: the term of the proposed entry
        raft::LogIndex read_index = 0;  // reads: serve once applied reaches it
        // lock, campaign, queue_get: when the wait ends (received + wait_ms)
        Clock::time_point wait_end{};
        bool cancelling = false;  // a wait_cancel for it is proposed: answer, do not hold
    };
    struct Forwarded {
        Envelope envelope;
        std::string id;
        Clock::time_point deadline;
    };
    // A decoded request waiting in the inbox to be served, in arrival order.
    struct Inbound {
        Envelope envelope;
        zmq::message_t body;  // as received: a follower forwards these bytes
        wire::ClientRequest request;
        Clock::time_point received;
    };

    static constexpr std::size_t drain_per_turn_max = 4096;  // per socket: none starves the rest
    // Work per loop turn (ticks, heartbeats and votes must keep their
    // timing whatever the data size): requests served from the inbox, and
    // time spent on Readies (apply) and on serving, before yielding to poll.
    static constexpr std::size_t serve_per_turn_max = 4096;
    static constexpr auto serve_time_per_turn_max = std::chrono::milliseconds(10);
    static constexpr auto ready_time_per_turn_max = std::chrono::milliseconds(20);
    static constexpr auto drain_time_per_turn_max = std::chrono::milliseconds(20);  // peers

    // node.cc: sockets and the loop.
    void open_sockets();
    void update_member_links();
    void turn(const std::atomic<bool>& stop);
    bool handing_off();
    // Handed over and about to exit: new requests are sent to the leader.
    bool leaving() const {
        return handoff_ == Handoff::under_way && raft_.role() != raft::Role::leader;
    }
    void warn_if_slow(Clock::time_point turn_end);
    void warn_if_slow_fsync(Clock::duration took, std::size_t entries);
    void drain_peers();
    void drain_clients();
    void drain_pull();
    void run_ticks(Clock::time_point now);
    void publish_status(Clock::time_point now);
    wire::NodeStatus node_status(bool with_hash) const;
    // Re-applying the log after a restart, up to recovering_to_.
    bool recovering() const;
    std::size_t requests_pending() const;
    Clock::duration timeout_of(const wire::ClientRequest& request) const;
    std::optional<std::string> leader_endpoint() const;

    // node_metrics.cc: GET /metrics and /health (on the loop: HttpExporter).
    void note_metrics(Clock::time_point now);
    void note_answer(const Envelope& envelope, std::string_view outcome);
    wire::metrics::HttpResponse answer_http(std::string_view path) const;
    wire::metrics::HttpResponse health() const;
    void render_raft(wire::metrics::TextWriter& w) const;
    void render_serving(wire::metrics::TextWriter& w) const;
    void render_state(wire::metrics::TextWriter& w) const;

    // node_ready.cc: the Ready cycle's steps (ReadyShell) and its retries.
    void process_ready();
    void on_storage_failure(const Error& error, bool was_stalled);
    raft::LogIndex applied_index() const override { return storage_->applied_index(); }
    raft::LogIndex snapshot_index() const override { return storage_->snapshot().index; }
    Result<bool> apply(std::span<const raft::Entry> entries) override;
    Result<bool> persist(const std::optional<raft::HardState>& hard_state,
                         const std::vector<raft::Entry>& entries) override;
    void compact(raft::LogIndex through) override { storage_->compact(through); }
    void send(const raft::Message& message) override;
    void finish(const raft::Ready& ready) override;
    void answer_write(const Applied& applied);
    void finish_reads(const raft::Ready& ready);
    void serve_waiting_reads();
    bool reads_waiting() const;  // confirmed reads that can be served now

    // node_requests.cc: client requests.
    // trusted: forwarded by a member, which checked the client's rights.
    void intake(Envelope envelope, zmq::message_t body, bool trusted);
    void serve_inbox();
    void dispatch(Inbound inbound);
    void answer_status(const Envelope& envelope, const wire::ClientRequest& request);
    void handle_push(const zmq::message_t& body);
    void start_write(Pending pending, const zmq::message_t& body, bool forwarded);
    void track_write(const raft::ProposeResult& proposed, Pending pending);
    void answer_lost_entry(const Pending& pending);
    raft::ProposeResult propose(const wire::ClientRequest& request);
    void start_read(Pending pending, const zmq::message_t& body, bool forwarded);
    void serve_read(const Pending& pending);
    void serve_watch(const Pending& pending);
    void reply(const Envelope& envelope, wire::ClientReply reply);
    void reply_error(const Envelope& envelope, std::string_view code, std::string message,
                     std::string id);
    void refuse_not_leader(const Pending& pending, bool forwarded, const zmq::message_t& body);
    void expire_requests(Clock::time_point now);
    void retry_held_writes(Clock::time_point now);

    // node_quota.cc: --quota-bytes. On the leader, for a write that can grow
    // the applied state while it is at or over the quota: the message of its
    // `quota_exceeded` refusal; nullopt on a follower, or if it may go on.
    std::optional<std::string> quota_refusal(const wire::ClientRequest& request) const;

    // node_snapshots.cc: taking snapshots, compaction, InstallSnapshot.
    void maybe_take_snapshot(Clock::time_point now);
    void start_snapshot();
    void poll_snapshot(Clock::time_point now);
    void begin_transfer(const raft::Message& message);
    void pump_transfers(Clock::time_point now);
    void receive_piece(const wire::SnapshotPiece& piece);
    void offer_install(const raft::Message& message);
    void poll_staging();
    Result<bool> install_snapshot(const raft::SnapshotMeta& snapshot) override;
    void serve_snapshot_read(const Pending& pending);

    // node_leases.cc: lease timing, expiry, lease_info/lease_list and read-only txns.
    void load_lease_clock();
    void note_lease_changes(const Applied& applied, Clock::time_point now);
    void expire_leases(Clock::time_point now);
    void serve_lease_read(const Pending& pending);
    void serve_txn_read(const Pending& pending);

    // node_waits.cc: lock, campaign and queue_get requests that wait.
    bool hold_if_waiting(Pending& pending, const Applied& applied);
    void hold_mutex_wait(Pending pending, const std::string& key);
    void hold_queue_wait(Pending pending);
    void note_wakes(const Applied& applied);
    void publish_queue_ready(const Applied& applied);
    void resume_queue_waits();
    void expire_waits(Clock::time_point now);
    void serve_coord_read(const Pending& pending);
    std::size_t waits_held() const;
    Pending take_queue_wait(std::map<std::string, std::deque<Pending>>::iterator it);

    // node_members.cc: the membership, member_* and transfer_leader.
    void sync_membership();
    void relink(raft::Membership linked);
    void bind_uuids(Clock::time_point now);
    void note_applied_membership(const raft::Membership& membership, raft::LogIndex index);
    bool removed_and_done();
    wire::MembershipInfo membership_info() const;
    void serve_member_list(const Pending& pending);
    void start_change(Pending pending, const zmq::message_t& body, bool forwarded);
    Result<raft::Membership> next_membership(const wire::ClientRequest& request) const;
    void answer_change(Pending pending, const Applied& applied);
    void start_transfer(Pending pending, const zmq::message_t& body, bool forwarded);
    void poll_transfers(Clock::time_point now);

    // node_forward.cc: forwarding to the leader, in batches.
    static constexpr std::size_t forward_batch_max = 64;  // requests or replies per message
    static constexpr std::size_t forward_frames_max = 2 + 2 * forward_batch_max;
    struct Batch {
        std::vector<std::string> frames;        // of the message, as sent
        std::vector<std::uint64_t> forward_ids;  // one per request
    };
    static bool is_forwarded(const Envelope& envelope);
    static bool is_batch_marker(const zmq::message_t& frame);
    bool forward(const Envelope& envelope, const std::string& id, const zmq::message_t& body,
                 Clock::time_point deadline);
    void flush_forwards();
    void handle_forward_batch(std::vector<zmq::message_t>& parts);
    void queue_forward_reply(const Envelope& envelope, std::string reply);
    void flush_forward_replies();
    void drain_forward_replies(zmq::socket_t& dealer);

    NodeConfig config_;
    std::unique_ptr<storage::Storage> storage_;
    KvStateMachine state_machine_;
    raft::Rng rng_;
    raft::Raft raft_;
    ReadyCycle cycle_;
    zmq::context_t context_;
    NodeSecurity security_;  // before every socket: its ZAP handler must be bound first
    PeerTransport peers_;
    zmq::socket_t clients_;
    zmq::socket_t pub_;
    zmq::socket_t pull_;
    ConnectionMonitor connections_;  // after the sockets it watches: closed before them
    NodeMetrics metrics_;
    std::unique_ptr<wire::metrics::HttpExporter> http_;  // --metrics-listen (none: off)
    std::map<raft::NodeId, zmq::socket_t> forward_dealers_;  // to peers' client endpoints
    std::map<raft::NodeId, zmq::socket_t> forward_pushes_;   // to peers' PULL endpoints

    std::map<raft::LogIndex, Pending> writes_;            // proposed, by log index
    std::map<std::uint64_t, Pending> reads_;              // ReadIndex asked, by context id
    std::multimap<raft::LogIndex, Pending> reads_ready_;  // confirmed, wait for apply
    std::map<std::uint64_t, Forwarded> forwards_;         // by forward id
    std::map<raft::NodeId, Batch> forward_batches_;       // to send to the leader this turn
    // Frames to send per follower this turn. Keyed by a ROUTER identity, which
    // any connection gets anew: emptied by every flush, never kept.
    std::map<std::string, std::vector<std::string>> forward_replies_;
    struct HeldWrite {
        Pending pending;
        std::string body;  // as received, to forward
        bool forwarded = false;
    };
    std::vector<HeldWrite> held_writes_;  // proposed during a leadership handover
    std::deque<Inbound> inbox_;  // Invariant: requests_pending() <= pending_requests_max
    std::uint64_t next_read_id_ = 1;
    std::uint64_t next_forward_id_ = 1;

    Clock::time_point stalled_retry_at_;  // while cycle_ is stalled: retry then
    Clock::time_point next_tick_;
    Clock::time_point next_status_;
    Clock::time_point next_expire_;
    std::vector<zmq::pollitem_t> poll_items_;  // built once: the sockets never change
    std::uint64_t bad_requests_ = 0;
    std::uint64_t requests_expired_ = 0;
    std::uint64_t requests_overloaded_ = 0;
    raft::LogIndex recovering_to_ = 0;   // the commit index found at start, while above applied
    storage::SnapshotTaker snapshot_taker_;
    std::uint64_t log_bytes_at_snapshot_ = 0;  // storage's counter when the last one started
    Clock::time_point next_snapshot_try_;  // after a failed snapshot, not before this
    SnapshotSender snapshot_sender_;
    // The --member flags' membership (none for a node that joined): the
    // membership as of index 0, until a configuration entry is applied.
    raft::Membership bootstrap_;
    SnapshotReceiver snapshot_receiver_;
    std::optional<raft::Message> install_offer_;  // install_snapshot waiting for its file
    raft::SnapshotMeta installing_;  // the received snapshot the core was stepped with
    // A received snapshot being loaded into a state of its own on a thread
    // (Storage::stage_install); its install_snapshot is stepped once done.
    struct Staging {
        raft::Message message;
        std::atomic<bool> done{false};
        std::optional<Result<std::unique_ptr<storage::StagedInstall>>> result;
    };
    std::shared_ptr<Staging> staging_;
    std::thread staging_thread_;  // joined before the next and when run() ends
    std::unique_ptr<storage::StagedInstall> staged_;  // loaded: Ready.snapshot swaps it in
    Clock::time_point turn_start_;
    enum class Handoff { not_asked, under_way, done };  // of leadership, when asked to stop
    Handoff handoff_ = Handoff::not_asked;
    Clock::time_point handoff_started_;
    Clock::time_point stepped_down_at_;  // during a handoff: when this node stopped leading
    raft::NodeId handoff_target_ = raft::node_none;
    Clock::duration persist_time_in_turn_{};  // in persist() (the log's fsync), this turn
    Clock::time_point next_slow_warning_;     // slow turns are logged once a second at most
    Clock::time_point next_fsync_warning_;    // ... and slow fsyncs
    std::uint64_t rss_bytes_ = 0;             // as of the last heartbeat
    int storage_failing_ = 0;  // the fault-injection state last applied
    raft::Membership membership_seen_;  // members linked: the latest and the committed ones
    raft::Membership latest_seen_;      // the core's latest, as last logged
    raft::Membership committed_seen_;   // the core's committed one, as last linked
    struct Departed {
        raft::Member member;
        Clock::time_point until;  // linked until then
    };
    std::map<raft::NodeId, Departed> departed_;  // left the membership lately
    bool was_member_ = false;     // an applied membership (or the bootstrap) held this node
    raft::LogIndex removed_at_ = 0;  // the applied configuration entry that removed it
    Clock::time_point removed_seen_at_;  // when the loop first found it removed and idle
    struct Transfer {
        Pending pending;
        raft::NodeId target = raft::node_none;
    };
    std::vector<Transfer> transfers_;  // transfer_leader requests under way
    Clock::time_point next_bind_;       // leader: when to look for an unbound uuid again
    std::optional<std::string> refused_;  // a peer refuses this data directory: stop
    // Requests waiting for a grant, by waiter key (a mutex has one waiter
    // per lease, so one request each), and for an item, by queue in
    // arrival order; those woken by an item are proposed again next turn.
    std::map<std::string, Pending> mutex_waits_;
    std::map<std::string, std::deque<Pending>> queue_waits_;
    std::vector<Pending> queue_woken_;
    std::size_t queue_waits_held_ = 0;  // the requests in queue_waits_
    LeaseClock lease_clock_;
    Clock::time_point next_lease_check_;
    // The leader's lease_expire in flight (0: none): no other until it is
    // applied, or its term is over, or expire_retry passed.
    raft::LogIndex expiry_index_ = 0;
    raft::Term expiry_term_ = 0;
    Clock::time_point expiry_sent_;
};

}  // namespace cabildo::node
