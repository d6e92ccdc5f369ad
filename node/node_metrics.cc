// Node: GET /metrics (Prometheus text), /health, and the per-second rates
// of the heartbeat. What is counted is in node_metrics.h; the names are in
// README, "Metrics and health".
#include "node/node_metrics.h"

#include <algorithm>

#include "node/node.h"

namespace cabildo::node {

using wire::metrics::Labels;
using wire::metrics::TextWriter;

std::string_view op_label(std::uint8_t op) {
    if (op >= op_unknown) return "unknown";
    return wire::op_name(static_cast<wire::Op>(op));
}

void SecondRates::fsynced(MetricsClock::duration took) {
    if (fsyncs_us_.size() >= fsync_samples_max) return;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    fsyncs_us_.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)));
}

void SecondRates::roll(MetricsClock::time_point now) {
    if (started_ == MetricsClock::time_point{}) started_ = now;
    const auto elapsed = now - started_;
    if (elapsed < std::chrono::seconds(1)) return;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    writes_per_s_ = static_cast<std::uint64_t>(static_cast<double>(writes_) / seconds + 0.5);
    reads_per_s_ = static_cast<std::uint64_t>(static_cast<double>(reads_) / seconds + 0.5);
    fsync_p99_us_ = 0;
    if (!fsyncs_us_.empty()) {
        // At most fsync_samples_max: bounded work, once a second.
        const std::size_t at = (fsyncs_us_.size() * 99) / 100;
        std::nth_element(fsyncs_us_.begin(), fsyncs_us_.begin() + at, fsyncs_us_.end());
        fsync_p99_us_ = fsyncs_us_[at];
    }
    writes_ = reads_ = 0;
    fsyncs_us_.clear();
    started_ = now;
}

NodeMetrics::NodeMetrics() {
    latency.reserve(op_slots);
    for (std::size_t i = 0; i < op_slots; ++i) latency.emplace_back(wire::metrics::latency_bounds());
}

void NodeMetrics::answered(std::uint8_t op, std::string_view outcome, MetricsClock::duration took) {
    if (op >= op_slots) op = op_unknown;
    if (outcome == "ok") {
        ++ok[op];
    } else {
        auto it = other.find({op, std::string(outcome)});
        if (it == other.end()) it = other.emplace(std::pair{op, std::string(outcome)}, 0).first;
        ++it->second;
    }
    latency[op].observe(took);
}

namespace {

void requests(TextWriter& w, const NodeMetrics& m) {
    w.family("cabildo_client_requests_total", "counter",
             "Client requests answered, by op and outcome (ok, an error code, or forwarded: "
             "relayed from the leader).");
    for (std::size_t op = 0; op < op_slots; ++op) {
        if (m.ok[op] == 0) continue;
        w.sample("cabildo_client_requests_total", m.ok[op],
                 Labels{{"op", std::string(op_label(static_cast<std::uint8_t>(op)))},
                        {"outcome", "ok"}});
    }
    for (const auto& [key, count] : m.other) {
        w.sample("cabildo_client_requests_total", count,
                 Labels{{"op", std::string(op_label(key.first))}, {"outcome", key.second}});
    }
    w.family("cabildo_client_request_duration_seconds", "histogram",
             "Time from a client request's arrival to its answer, by op.");
    for (std::size_t op = 0; op < op_slots; ++op) {
        if (m.latency[op].count() == 0) continue;
        w.histogram("cabildo_client_request_duration_seconds", m.latency[op],
                    Labels{{"op", std::string(op_label(static_cast<std::uint8_t>(op)))}});
    }
}

void proposals(TextWriter& w, const NodeMetrics& m) {
    w.family("cabildo_proposals_total", "counter",
             "Writes proposed to the Raft core (ok), refused by it (failed), or forwarded to "
             "the leader.");
    w.sample("cabildo_proposals_total", m.proposals_ok, Labels{{"outcome", "ok"}});
    w.sample("cabildo_proposals_total", m.proposals_failed, Labels{{"outcome", "failed"}});
    w.sample("cabildo_proposals_total", m.forwarded, Labels{{"outcome", "forwarded"}});
}

void disk(TextWriter& w, const NodeMetrics& m) {
    w.family("cabildo_fsync_duration_seconds", "histogram",
             "Time to write and fdatasync one Ready's entries and vote to the log.");
    w.histogram("cabildo_fsync_duration_seconds", m.fsync);
    w.counter("cabildo_slow_fsyncs_total", "Log syncs over --slow-fsync-ms.", m.slow_fsyncs);
    w.family("cabildo_ready_entries", "histogram",
             "Entries per Ready: persisted to the log, and applied to the state.");
    w.histogram("cabildo_ready_entries", m.persisted_entries, Labels{{"stage", "persist"}});
    w.histogram("cabildo_ready_entries", m.applied_entries, Labels{{"stage", "apply"}});
    w.family("cabildo_loop_turn_duration_seconds", "histogram",
             "Time one turn of the node's loop took (after its poll).");
    w.histogram("cabildo_loop_turn_duration_seconds", m.loop_turn);
    w.counter("cabildo_slow_loop_turns_total",
              "Loop turns longer than a quarter of the election timeout.", m.slow_turns);
}

void snapshots(TextWriter& w, const NodeMetrics& m) {
    w.family("cabildo_snapshots_total", "counter",
             "Snapshots: taken, failed to take, sent to followers, installed from the leader.");
    w.sample("cabildo_snapshots_total", m.snapshots_taken, Labels{{"event", "taken"}});
    w.sample("cabildo_snapshots_total", m.snapshots_failed, Labels{{"event", "failed"}});
    w.sample("cabildo_snapshots_total", m.snapshots_sent, Labels{{"event", "sent"}});
    w.sample("cabildo_snapshots_total", m.snapshots_installed, Labels{{"event", "installed"}});
    w.family("cabildo_snapshot_duration_seconds", "histogram", "Time to write a snapshot.");
    w.histogram("cabildo_snapshot_duration_seconds", m.snapshot_duration);
    w.counter("cabildo_snapshot_bytes_total", "Bytes of the snapshots taken.", m.snapshot_bytes);
}

}  // namespace

void Node::render_raft(wire::metrics::TextWriter& w) const {
    const raft::RaftStatus s = raft_.status();
    w.family("cabildo_role", "gauge", "1 for this node's role in the Raft core, 0 for the others.");
    for (raft::Role role : {raft::Role::follower, raft::Role::pre_candidate,
                            raft::Role::candidate, raft::Role::leader}) {
        w.sample("cabildo_role", std::uint64_t{s.role == role ? 1u : 0u},
                 Labels{{"role", std::string(raft::role_name(role))}});
    }
    w.gauge("cabildo_term", "The current term.", static_cast<double>(s.term));
    w.gauge("cabildo_leader_id", "The leader this node knows (0: none).",
            static_cast<double>(s.leader));
    w.counter("cabildo_leader_changes_total",
              "Changes of the leader this node knows (to another node or to none).",
              metrics_.leader_changes);
    w.gauge("cabildo_commit_index", "The commit index.", static_cast<double>(s.commit_index));
    w.gauge("cabildo_applied_index", "The applied index.",
            static_cast<double>(storage_->applied_index()));
    w.gauge("cabildo_first_index", "The first index the log holds (after compaction).",
            static_cast<double>(storage_->first_index()));
    w.gauge("cabildo_last_index", "The last index of the log.", static_cast<double>(s.last_index));
    w.gauge("cabildo_snapshot_index", "The index of the newest local snapshot (0: none).",
            static_cast<double>(storage_->snapshot().index));
    w.family("cabildo_follower_lag_entries", "gauge",
             "Leader only: entries of the log each follower does not hold yet.");
    for (const raft::ProgressStatus& p : s.progress) {
        if (p.id == config_.id) continue;
        const raft::LogIndex lag = s.last_index > p.match_index ? s.last_index - p.match_index : 0;
        w.sample("cabildo_follower_lag_entries", static_cast<double>(lag),
                 Labels{{"peer", std::to_string(p.id)}});
    }
    w.family("cabildo_replicated_entries_total", "counter",
             "Log entries sent to each peer in append_entries (retransmissions included).");
    for (const auto& [peer, t] : metrics_.sent_to) {
        w.sample("cabildo_replicated_entries_total", t.entries,
                 Labels{{"peer", std::to_string(peer)}});
    }
    w.family("cabildo_replicated_bytes_total", "counter",
             "Bytes of the entries' commands sent to each peer in append_entries.");
    for (const auto& [peer, t] : metrics_.sent_to) {
        w.sample("cabildo_replicated_bytes_total", t.bytes, Labels{{"peer", std::to_string(peer)}});
    }
    w.family("cabildo_peer_messages_sent_total", "counter", "Raft messages sent to each peer.");
    for (const auto& [peer, t] : metrics_.sent_to) {
        w.sample("cabildo_peer_messages_sent_total", t.messages,
                 Labels{{"peer", std::to_string(peer)}});
    }
}

void Node::render_serving(wire::metrics::TextWriter& w) const {
    requests(w, metrics_);
    proposals(w, metrics_);
    w.family("cabildo_dropped_requests_total", "counter",
             "Client requests not served: expired (waited past their timeout), overloaded "
             "(refused at --pending-requests-max), bad (malformed or oversized).");
    w.sample("cabildo_dropped_requests_total", requests_expired_, Labels{{"reason", "expired"}});
    w.sample("cabildo_dropped_requests_total", requests_overloaded_,
             Labels{{"reason", "overloaded"}});
    w.sample("cabildo_dropped_requests_total", bad_requests_, Labels{{"reason", "bad"}});
    w.gauge("cabildo_requests_pending", "Client requests received and not yet answered.",
            static_cast<double>(requests_pending()));
    w.gauge("cabildo_waits_held", "lock, campaign and queue_get requests waiting.",
            static_cast<double>(waits_held()));
    const std::uint64_t watch_from =
        metrics_.ok[static_cast<std::size_t>(wire::Op::watch_from)];
    w.counter("cabildo_watch_from_total", "watch_from calls answered ok.", watch_from);
    w.family("cabildo_connections", "gauge",
             "Open connections by endpoint (client, pull, pub: watch subscribers).");
    for (const auto& [endpoint, count] : connections_.counts()) {
        w.sample("cabildo_connections", static_cast<double>(count),
                 Labels{{"endpoint", endpoint}});
    }
    w.gauge("cabildo_watch_subscribers", "Connections to the PUB endpoint (the commit stream).",
            static_cast<double>(connections_.count("pub")));
}

void Node::render_state(wire::metrics::TextWriter& w) const {
    w.gauge("cabildo_keys", "Keys in the applied state.", static_cast<double>(storage_->key_count()));
    w.gauge("cabildo_sessions", "Client sessions remembered for exactly-once writes.",
            static_cast<double>(storage_->session_count()));
    w.gauge("cabildo_leases", "Open leases.", static_cast<double>(lease_clock_.size()));
    w.gauge("cabildo_state_bytes", "Bytes the client data occupies, as --quota-bytes counts them.",
            static_cast<double>(storage_->state_bytes()));
    w.gauge("cabildo_quota_bytes", "--quota-bytes (0: none).",
            static_cast<double>(config_.quota_bytes));
    w.gauge("cabildo_lmdb_map_bytes", "The LMDB map's size.",
            static_cast<double>(storage_->map_bytes()));
    w.gauge("cabildo_lmdb_used_bytes", "The part of the LMDB map in use.",
            static_cast<double>(storage_->map_used_bytes()));
    w.gauge("cabildo_resident_memory_bytes", "The process's resident memory.",
            static_cast<double>(wire::metrics::resident_bytes()));
    w.gauge("cabildo_uptime_seconds", "How long the process has run.",
            std::chrono::duration<double>(Clock::now() - metrics_.started).count());
    disk(w, metrics_);
    snapshots(w, metrics_);
}

// Health for a load balancer: 200 when this node knows a leader, can write
// to its disk and has applied to within --health-max-lag of the commit index.
wire::metrics::HttpResponse Node::health() const {
    const raft::RaftStatus s = raft_.status();
    const raft::LogIndex applied = storage_->applied_index();
    const raft::LogIndex lag = s.commit_index > applied ? s.commit_index - applied : 0;
    std::string reason;
    if (s.leader == raft::node_none) {
        reason = "no leader is known to this node";
    } else if (cycle_.stalled()) {
        reason = "this node cannot write to its disk";
    } else if (lag > config_.health_max_lag) {
        reason = "applied index " + std::to_string(applied) + " is " + std::to_string(lag) +
                 " entries behind the commit index (over --health-max-lag " +
                 std::to_string(config_.health_max_lag) + ")";
    }
    std::string body = "{\"healthy\": " + std::string(reason.empty() ? "true" : "false") +
                       ", \"node_id\": " + std::to_string(config_.id) + ", \"role\": \"" +
                       std::string(raft::role_name(s.role)) +
                       "\", \"leader_id\": " + std::to_string(s.leader) +
                       ", \"term\": " + std::to_string(s.term) +
                       ", \"commit_index\": " + std::to_string(s.commit_index) +
                       ", \"applied_index\": " + std::to_string(applied);
    if (!reason.empty()) body += ", \"reason\": \"" + reason + "\"";  // ours: no quotes in it
    body += "}\n";
    return {reason.empty() ? 200u : 503u, "application/json", std::move(body)};
}

wire::metrics::HttpResponse Node::answer_http(std::string_view path) const {
    if (path == "/metrics") {
        TextWriter w;
        render_raft(w);
        render_serving(w);
        render_state(w);
        return {200, "text/plain; version=0.0.4; charset=utf-8", w.take()};
    }
    if (path == "/health") return health();
    return wire::metrics::not_found();
}

// Once per turn: the leader as last seen, the rates' second, HTTP requests.
void Node::note_metrics(Clock::time_point now) {
    const raft::NodeId leader = raft_.leader();
    if (leader != metrics_.leader_seen) {
        ++metrics_.leader_changes;
        metrics_.leader_seen = leader;
    }
    metrics_.rates.roll(now);
    if (http_) http_->serve([this](std::string_view path) { return answer_http(path); });
}

// A reply to a client (or a follower's forwarded request), as it leaves.
void Node::note_answer(const Envelope& envelope, std::string_view outcome) {
    if (envelope.received == Clock::time_point{}) return;  // not a client request
    metrics_.answered(envelope.op, outcome, Clock::now() - envelope.received);
}

}  // namespace cabildo::node
