// NodeMetrics: what a node counts for `GET /metrics` (node_metrics.cc
// renders it with node state) and the rates its hb/ heartbeat carries.
//
// Owned and updated by the loop thread only; every update is O(1) and
// allocation-free once an (op, outcome) pair has been seen.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/types.h"
#include "wire/client_messages.h"
#include "wire/metrics/prometheus.h"

namespace cabildo::node {

using MetricsClock = std::chrono::steady_clock;

// The ops by number, plus one for requests that did not decode.
inline constexpr std::size_t op_slots = static_cast<std::size_t>(wire::op_max) + 2;
inline constexpr std::uint8_t op_unknown = static_cast<std::uint8_t>(wire::op_max) + 1;
std::string_view op_label(std::uint8_t op);

// Per-second figures for the heartbeat (`writes_per_s`, `reads_per_s`,
// `fsync_p99_us`): counted during a second, published for the next one.
class SecondRates {
public:
    static constexpr std::size_t fsync_samples_max = 4096;  // per second

    void wrote() { ++writes_; }
    void read() { ++reads_; }
    void fsynced(MetricsClock::duration took);
    // Closes the second once it is over (call often: O(1) unless it closes).
    void roll(MetricsClock::time_point now);

    std::uint64_t writes_per_s() const { return writes_per_s_; }
    std::uint64_t reads_per_s() const { return reads_per_s_; }
    std::uint64_t fsync_p99_us() const { return fsync_p99_us_; }

private:
    MetricsClock::time_point started_{};
    std::uint64_t writes_ = 0;
    std::uint64_t reads_ = 0;
    std::vector<std::uint32_t> fsyncs_us_;
    std::uint64_t writes_per_s_ = 0;
    std::uint64_t reads_per_s_ = 0;
    std::uint64_t fsync_p99_us_ = 0;
};

struct PeerTraffic {
    std::uint64_t messages = 0;
    std::uint64_t entries = 0;  // in append_entries
    std::uint64_t bytes = 0;    // of those entries' commands
};

struct NodeMetrics {
    NodeMetrics();

    // A client request answered (outcome: "ok" or its error code), or
    // relayed from the leader ("forwarded"), `took` after it arrived.
    void answered(std::uint8_t op, std::string_view outcome, MetricsClock::duration took);

    MetricsClock::time_point started = MetricsClock::now();
    std::array<std::uint64_t, op_slots> ok{};
    std::map<std::pair<std::uint8_t, std::string>, std::uint64_t> other;  // by (op, outcome)
    std::vector<wire::metrics::Histogram> latency;  // by op

    std::uint64_t proposals_ok = 0;      // proposed to the core as leader
    std::uint64_t proposals_failed = 0;  // refused by the core (not leader, dropped, backlog)
    std::uint64_t forwarded = 0;         // sent on to the leader
    std::uint64_t leader_changes = 0;
    raft::NodeId leader_seen = raft::node_none;

    wire::metrics::Histogram fsync{wire::metrics::latency_bounds()};
    std::uint64_t slow_fsyncs = 0;
    wire::metrics::Histogram loop_turn{wire::metrics::latency_bounds()};
    std::uint64_t slow_turns = 0;
    wire::metrics::Histogram persisted_entries{wire::metrics::size_bounds()};
    wire::metrics::Histogram applied_entries{wire::metrics::size_bounds()};
    std::map<raft::NodeId, PeerTraffic> sent_to;

    std::uint64_t snapshots_taken = 0;
    std::uint64_t snapshots_failed = 0;
    wire::metrics::Histogram snapshot_duration{wire::metrics::latency_bounds()};
    std::uint64_t snapshot_bytes = 0;     // of the snapshots taken
    std::uint64_t snapshots_sent = 0;     // transfers to followers begun
    std::uint64_t snapshots_installed = 0;

    SecondRates rates;
};

}  // namespace cabildo::node
