// Node: construction, sockets and the event loop; see node.h.
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <climits>
#include <random>

#include "node/frames.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

constexpr int client_hwm = 100000;

// The membership as of the applied index: the last configuration entry the
// state machine applied, or else the bootstrap members of the flags. A node
// that joins has none: it learns the membership from its log, as sent.
raft::Config raft_config(const NodeConfig& config, const storage::Storage& storage) {
    raft::Config c;
    c.id = config.id;
    c.membership = storage.applied_membership().value_or(config.bootstrap_membership());
    const raft::LogIndex applied = storage.applied_index();
    c.election_timeout_ticks = config.election_ticks;
    c.heartbeat_interval_ticks = config.heartbeat_ticks;
    c.applied = applied;
    // Small enough that one Ready's apply takes milliseconds, so re-applying
    // a long log yields to the loop between Readies (node.h).
    c.apply_bytes_max = 256 << 10;
    // The shell reports a transfer that stalls (SnapshotSender::ack_timeout);
    // this is only the core's backstop, long enough for a large snapshot.
    c.snapshot_timeout_ticks = std::max(1, 120000 / config.tick_ms);
    return c;
}

std::uint64_t random_seed() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

Node::Node(const NodeConfig& config, std::unique_ptr<storage::Storage> storage)
    : config_(config),
      storage_(std::move(storage)),
      state_machine_(*storage_),
      rng_(random_seed()),
      raft_(raft_config(config_, *storage_), storage_->hard_state(), *storage_, rng_),
      cycle_(raft_, *this),
      context_(1),
      security_(context_, config_.security),
      peers_(context_, config_, security_),
      clients_(context_, zmq::socket_type::router),
      pub_(context_, zmq::socket_type::pub),
      pull_(context_, zmq::socket_type::pull),
      snapshot_sender_(config_.id),
      bootstrap_(config_.bootstrap_membership()),
      snapshot_receiver_(config_.id, storage_->snapshots_dir()) {
    snapshot_sender_.set_corrupt_chunk(config_.test_corrupt_snapshot_chunk);
    snapshot_sender_.set_rate(config_.snapshot_rate_mb * 1000000);
    open_sockets();
    if (!config_.metrics_listen.empty()) {
        auto http = wire::metrics::HttpExporter::start(config_.metrics_listen);
        if (!http) throw std::runtime_error(http.error().detail);
        http_ = std::move(*http);
        spdlog::info("node {}: metrics at http://{}/metrics", config_.id, config_.metrics_listen);
    }
    const raft::Membership applied = storage_->applied_membership().value_or(bootstrap_);
    was_member_ = applied.contains(config_.id);
    sync_membership();
    if (!raft_.membership().empty() && !raft_.membership().contains(config_.id)) {
        spdlog::warn("node {}: not in the membership its log holds (index {}): it waits to be "
                     "added; if it was removed, it has no part in the cluster",
                     config_.id, raft_.membership_index());
    }
    // What the last run left uncompacted (a log reopens at its oldest
    // segment's start).
    cycle_.compact(config_.snapshot_trailing);
    load_lease_clock();
    const raft::HardState hs = storage_->hard_state();
    if (hs.commit_index > storage_->applied_index()) recovering_to_ = hs.commit_index;
    spdlog::info("node {}: term {}, commit {}, applied {}, last index {}; clients at {}",
                 config_.id, hs.term, hs.commit_index, storage_->applied_index(),
                 storage_->last_index(), config_.self().client_endpoint());
}

// Asked to stop while leader: hand leadership to the most caught-up
// follower first (TimeoutNow, thesis §3.10), so that a rolling restart
// costs the cluster no election timeout. True while that is under way;
// given up after the longest election timeout.
bool Node::handing_off() {
    const auto now = Clock::now();
    if (handoff_ == Handoff::not_asked) {
        handoff_ = Handoff::done;
        handoff_started_ = now;
        if (raft_.role() != raft::Role::leader || cycle_.stalled()) return false;
        const raft::RaftStatus st = raft_.status();
        // A voter: a learner cannot take over.
        const auto [target, best] = raft_.most_caught_up_voter();
        if (target == raft::node_none || raft_.transfer_leadership(target) != Status::ok) {
            return false;
        }
        spdlog::info("node {}: stopping: handing leadership to node {} first (it holds the log "
                     "up to {} of {})",
                     config_.id, target, best, st.last_index);
        handoff_target_ = target;
        handoff_ = Handoff::under_way;
        return true;
    }
    if (handoff_ != Handoff::under_way) return false;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - handoff_started_);
    const auto give_up = std::chrono::milliseconds(2 * config_.election_ticks * config_.tick_ms);
    if (raft_.role() != raft::Role::leader) {
        // Its writes in flight commit under the new leader and are answered
        // here; requests forwarded to it as leader get the new leader's
        // address for a while (the followers learn it from the new
        // leader's first append); then this node goes.
        // Linger from when the new leader is known: before that, answers
        // carry no leader hint, and a client that got one would send its
        // next request here just as this node exits (lost: 250 ms gaps).
        if (stepped_down_at_ == Clock::time_point{} && raft_.leader() != raft::node_none) {
            stepped_down_at_ = now;
        }
        const bool lingering = stepped_down_at_ == Clock::time_point{} ||
                               now - stepped_down_at_ < std::chrono::milliseconds(100);
        if ((lingering || !writes_.empty() || !held_writes_.empty() || !forwards_.empty()) &&
            ms <= give_up) {
            return true;
        }
        if (raft_.leader() != raft::node_none) {
            spdlog::info("node {}: handed leadership over in {} ms (leader now: node {})",
                         config_.id, ms.count(), raft_.leader());
        } else {  // the others are stopping too, say: this node lost its quorum
            spdlog::info("node {}: stopped leading after {} ms; no leader is known", config_.id,
                         ms.count());
        }
        handoff_ = Handoff::done;
        return false;
    }
    if (ms > give_up) {
        spdlog::warn("node {}: node {} did not take over within {} ms; stopping as leader",
                     config_.id, handoff_target_, ms.count());
        handoff_ = Handoff::done;
        return false;
    }
    return true;
}

Node::~Node() {
    if (staging_thread_.joinable()) staging_thread_.join();  // it reads storage_
}

void Node::open_sockets() {
    const Member& self = config_.self();
    clients_.set(zmq::sockopt::linger, 0);
    clients_.set(zmq::sockopt::router_mandatory, 1);
    clients_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::frame_bytes_max));
    clients_.set(zmq::sockopt::sndhwm, client_hwm);
    clients_.set(zmq::sockopt::rcvhwm, client_hwm);
    security_.serve(clients_, "client");
    connections_.watch(context_, clients_, "client");
    clients_.bind(self.client_endpoint());
    pub_.set(zmq::sockopt::linger, 0);
    pub_.set(zmq::sockopt::sndhwm, client_hwm);
    security_.serve(pub_, "pub");
    connections_.watch(context_, pub_, "pub");
    pub_.bind(self.pub_endpoint());
    pull_.set(zmq::sockopt::linger, 0);
    security_.serve(pull_, "pull");
    pull_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::frame_bytes_max));
    pull_.set(zmq::sockopt::rcvhwm, client_hwm);
    connections_.watch(context_, pull_, "pull");
    pull_.bind(self.pull_endpoint());
    update_member_links();
}

// A DEALER to each other member's client endpoint (forwarding) and a PUSH
// to its PULL endpoint, following the membership.
void Node::update_member_links() {
    const auto gone = [&](raft::NodeId id, const std::string& endpoint) {
        const Member* m = config_.member(id);
        return m == nullptr || m->client_endpoint() != endpoint;
    };
    for (auto it = forward_dealers_.begin(); it != forward_dealers_.end();) {
        if (gone(it->first, it->second.get(zmq::sockopt::last_endpoint))) {
            forward_pushes_.erase(it->first);
            it = forward_dealers_.erase(it);
        } else {
            ++it;
        }
    }
    for (const Member& m : config_.members) {
        if (m.id == config_.id || forward_dealers_.count(m.id) != 0) continue;
        zmq::socket_t dealer(context_, zmq::socket_type::dealer);
        dealer.set(zmq::sockopt::linger, 0);
        dealer.set(zmq::sockopt::sndhwm, client_hwm);
        set_node_link_options(dealer);
        security_.link_to_server(dealer);
        dealer.connect(m.client_endpoint());
        forward_dealers_.emplace(m.id, std::move(dealer));
        zmq::socket_t push(context_, zmq::socket_type::push);
        push.set(zmq::sockopt::linger, 0);
        push.set(zmq::sockopt::sndhwm, client_hwm);
        set_node_link_options(push);
        security_.link_to_server(push);
        push.connect(m.pull_endpoint());
        forward_pushes_.emplace(m.id, std::move(push));
    }
    poll_items_.clear();  // rebuilt with the dealers as they are now
}

int Node::run(const std::atomic<bool>& stop, const std::atomic<int>* fail_storage,
              std::atomic<bool>* reload_acl) {
    next_tick_ = Clock::now() + std::chrono::milliseconds(config_.tick_ms);
    next_status_ = Clock::now();
    const std::atomic<bool> not_yet{false};
    for (;;) {
        // SIGTERM: a leader hands over first, its loop running meanwhile.
        if (stop.load() && !handing_off()) break;
        if (removed_and_done()) break;
        if (refused_) {
            spdlog::critical("node {}: stopping: the cluster refuses this data directory",
                             config_.id);
            return 1;
        }
        if (fail_storage != nullptr && fail_storage->load() != storage_failing_) {
            storage_failing_ = fail_storage->load();
            spdlog::warn("node {}: fault injection: storage commits {}", config_.id,
                         storage_failing_ != 0 ? "now fail" : "work again");
            storage_->set_fail_next_commits(storage_failing_ != 0 ? INT_MAX : 0);
        }
        if (reload_acl != nullptr && reload_acl->exchange(false) && security_.reload()) {
            peers_.update_members();  // a member's key may be new
        }
        try {
            turn(handoff_ == Handoff::under_way ? not_yet : stop);
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR) continue;  // a signal: the loop condition decides
            spdlog::critical("node {}: ZeroMQ error: {}", config_.id, e.what());
            return 1;
        }
    }
    spdlog::info("node {}: shutting down (commit {}, applied {})", config_.id,
                 raft_.status().commit_index, storage_->applied_index());
    // The last answers (a forwarded write's, say) may still be queued in the
    // socket: closing it with linger 0 would drop them, and their clients
    // would wait out their timeout (seen: 250 ms gaps in rolling restarts).
    clients_.set(zmq::sockopt::linger, 500);
    return 0;
}

void Node::turn(const std::atomic<bool>& stop) {
    std::vector<zmq::pollitem_t>& items = poll_items_;
    if (items.empty()) {
        items = {
            {peers_.router().handle(), 0, ZMQ_POLLIN, 0},
            {clients_.handle(), 0, ZMQ_POLLIN, 0},
            {pull_.handle(), 0, ZMQ_POLLIN, 0},
        };
        for (auto& [id, dealer] : forward_dealers_) {
            items.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});
        }
        if (zmq::socket_t* zap = security_.zap_socket()) {
            items.push_back({zap->handle(), 0, ZMQ_POLLIN, 0});
        }
    }
    // Round UP: a wait under 1 ms truncated to poll(0) made the loop spin
    // until the next tick (a core's worth of CPU on a 2-core machine).
    // Work left over from the last turn (the inbox, Readies past the turn's
    // budget) is done after a poll that does not wait.
    const bool more_work = !inbox_.empty() || !queue_woken_.empty() ||
                           (!cycle_.stalled() && raft_.has_ready()) || reads_waiting();
    const auto wait = more_work ? Clock::duration::zero()
                                : std::max(Clock::duration::zero(), next_tick_ - Clock::now());
    zmq::poll(items, std::chrono::ceil<std::chrono::milliseconds>(wait));
    if (stop.load()) return;
    turn_start_ = Clock::now();
    persist_time_in_turn_ = {};
    if (cycle_.stalled()) {
        process_ready();  // retries the Ready storage could not complete
    } else if (items[0].revents & ZMQ_POLLIN) {
        drain_peers();
    }
    if (items[1].revents & ZMQ_POLLIN) drain_clients();
    if (items[2].revents & ZMQ_POLLIN) drain_pull();
    std::size_t i = 3;
    for (auto& [id, dealer] : forward_dealers_) {
        if (items[i++].revents & ZMQ_POLLIN) drain_forward_replies(dealer);
    }
    security_.handle_zap();  // new connections' handshakes
    serve_inbox();
    resume_queue_waits();
    flush_forwards();  // before this turn's fsync, not after
    const Clock::time_point now = Clock::now();
    run_ticks(now);
    process_ready();
    sync_membership();
    bind_uuids(now);
    poll_transfers(now);
    pump_transfers(now);
    poll_snapshot(now);
    maybe_take_snapshot(now);
    if (reads_waiting()) serve_waiting_reads();  // what the last turn's budget left
    expire_requests(now);
    retry_held_writes(now);
    expire_leases(now);
    publish_status(now);
    flush_forwards();
    flush_forward_replies();
    note_metrics(now);
    warn_if_slow(Clock::now());
}

// A turn far over its budgets delays ticks, heartbeats and answers: say
// how long, and how much of it the log's fsync took (a slow or busy disk)
// rather than the loop's own work.
void Node::warn_if_slow(Clock::time_point turn_end) {
    // A quarter of the shortest election timeout: a follower that waits
    // this long to take its heartbeat is a quarter of the way to an election.
    const auto slow = std::chrono::milliseconds(config_.election_ticks * config_.tick_ms / 4);
    const auto took = turn_end - turn_start_;
    metrics_.loop_turn.observe(took);
    if (took < slow) return;
    ++metrics_.slow_turns;
    if (turn_end < next_slow_warning_) return;
    next_slow_warning_ = turn_end + std::chrono::seconds(1);
    const auto ms = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    spdlog::warn("node {}: a loop turn took {} ms, {} ms of it syncing the log", config_.id,
                 ms(took), ms(persist_time_in_turn_));
}

// Within the turn's time budget too: a snapshot's chunks (a CRC and a write
// each) arriving at disk speed took one turn 1 s. The rest waits in the
// socket; the next poll does not wait.
void Node::drain_peers() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        if (n > 0 && Clock::now() - turn_start_ > drain_time_per_turn_max) return;
        bool drained = false;
        PeerTransport::Inbound in = peers_.receive(drained);
        if (drained) return;
        if (in.refused && !refused_) {
            spdlog::critical("node {}: {}", config_.id, *in.refused);
            refused_ = std::move(in.refused);
        }
        if (in.piece) receive_piece(*in.piece);
        if (in.message && in.message->type == raft::MessageType::install_snapshot) {
            offer_install(*in.message);  // stepped once its file is here
        } else if (in.message) {
            raft_.step(*in.message);
        }
        // Step and persist in small groups: a long burst of appends is then
        // one fsync, not one each, and the core never waits long for Ready.
        if (n % 64 == 63) process_ready();
        if (cycle_.stalled()) return;
    }
}

void Node::drain_clients() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = recv_frames(clients_, forward_frames_max);  // a client's or a forwarded batch
        if (!frames) break;
        if (frames->truncated || frames->parts.size() < 2) {
            ++bad_requests_;
            spdlog::warn("client: dropped a message of {} frames", frames->parts.size());
            continue;
        }
        if (is_batch_marker(frames->parts[1])) {  // [identity, marker, ...]
            // Its requests are not checked again: only a member may send one.
            if (security_.enabled() && security_.member_of(frames->parts[1]) == raft::node_none) {
                ++bad_requests_;
                spdlog::warn("client: dropped a forwarded batch from a key that is not a member's");
                continue;
            }
            handle_forward_batch(frames->parts);
            continue;
        }
        Envelope envelope;
        for (std::size_t i = 0; i + 1 < frames->parts.size(); ++i) {
            envelope.push_back(to_string(frames->parts[i]));
        }
        intake(std::move(envelope), std::move(frames->parts.back()), false);
    }
}

void Node::drain_pull() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = recv_frames(pull_, 1);
        if (!frames) return;
        if (frames->truncated) {
            ++bad_requests_;
            continue;
        }
        handle_push(frames->parts[0]);
    }
}

// At most a heartbeat interval's ticks per turn; the time of a longer turn
// is dropped, not caught up. A turn that stalled (a log sync that waited a
// second behind the disk, a pause) has its peers' messages from meanwhile
// in the socket: they are stepped first, at the start of the next turn, and
// a second of ticks after them would still call an election against a
// leader that was heard (or step a leader down whose followers answered).
// etcd's Go ticker drops ticks for a slow receiver the same way. Only
// liveness depends on ticks: votes, reads and commits do not.
void Node::run_ticks(Clock::time_point now) {
    if (cycle_.stalled()) return;  // tick() may not run between take_ready() and advance()
    const auto tick = std::chrono::milliseconds(config_.tick_ms);
    const int ticks_max = std::max(1, config_.heartbeat_ticks);
    int ticks = 0;
    while (now >= next_tick_ && ticks < ticks_max) {
        raft_.tick();
        next_tick_ += tick;
        ++ticks;
    }
    if (now >= next_tick_) next_tick_ = now + tick;  // a long turn: drop the rest
}

std::optional<std::string> Node::leader_endpoint() const {
    const Member* leader = config_.member(raft_.leader());
    if (leader == nullptr) return std::nullopt;
    return leader->client_endpoint();
}

wire::NodeStatus Node::node_status(bool with_hash) const {
    const raft::RaftStatus s = raft_.status();
    wire::NodeStatus status;
    status.node_id = config_.id;
    status.role = raft::role_name(s.role);
    status.term = s.term;
    status.leader_id = s.leader;
    status.commit_index = s.commit_index;
    status.applied_index = storage_->applied_index();
    status.last_index = s.last_index;
    status.state_hash = with_hash ? storage_->state_hash() : 0;
    for (const Member& m : config_.members) {
        status.members.push_back({m.id, m.client_endpoint(), m.address(), m.learner, 0, m.uuid, false});
    }
    status.recovering = recovering();
    status.recovering_to = status.recovering ? recovering_to_ : 0;
    status.requests_pending = requests_pending();
    status.requests_expired = requests_expired_;
    status.requests_overloaded = requests_overloaded_;
    status.forward_reply_queues = forward_replies_.size();
    status.first_index = storage_->first_index();
    status.snapshot_index = storage_->snapshot().index;
    status.snapshot_in_progress = snapshot_taker_.running();
    status.snapshot_transfers = snapshot_sender_.active();
    status.snapshot_chunks_refused = snapshot_receiver_.chunks_refused();
    status.quota_bytes = config_.quota_bytes;
    status.state_bytes = storage_->state_bytes();  // O(1): node_quota.cc
    status.writes_per_s = metrics_.rates.writes_per_s();
    status.reads_per_s = metrics_.rates.reads_per_s();
    status.fsync_p99_us = metrics_.rates.fsync_p99_us();
    status.rss_bytes = rss_bytes_;
    status.leader_changes = metrics_.leader_changes;
    status.uptime_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - metrics_.started)
            .count());
    return status;
}

bool Node::recovering() const {
    return storage_->applied_index() < recovering_to_;
}

std::size_t Node::requests_pending() const {
    return inbox_.size() + writes_.size() + reads_.size() + reads_ready_.size() + forwards_.size() +
           held_writes_.size() + waits_held();
}

// The lower of the request's own timeout_ms (if it gave one) and the node's.
Node::Clock::duration Node::timeout_of(const wire::ClientRequest& request) const {
    int ms = config_.request_timeout_ms;
    if (request.timeout_ms != 0) ms = std::min(ms, static_cast<int>(request.timeout_ms));
    // A request that waits (lock, campaign, queue_get) has that long after its wait.
    const std::uint32_t wait = wire::is_waiting_op(request.op) ? request.wait_ms : 0;
    return std::chrono::milliseconds(ms) + std::chrono::milliseconds(wait);
}

// Heartbeats on the PUB socket: topic hb/<id>, then the status map, so a
// broker or monitor learns who leads without asking.
void Node::publish_status(Clock::time_point now) {
    if (now < next_status_) return;
    next_status_ = now + std::chrono::milliseconds(config_.status_interval_ms);
    rss_bytes_ = wire::metrics::resident_bytes();  // a read of /proc: here, not per status
    connections_.update();  // its events wait in the monitors' queues meanwhile
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = storage_->applied_index();
    reply.leader = leader_endpoint();
    reply.status = node_status(false);
    const std::string topic = "hb/" + std::to_string(config_.id);
    send_frames(pub_, {topic}, wire::encode_reply(reply));
}

}  // namespace cabildo::node
