// SimNetwork: a seeded, lossy network for the simulator.
//
// Messages are delivered after a random delay (so they reorder), may be
// dropped or duplicated, and never cross a cut link. Links are directed, so a
// one-way cut is a partition too. It has no clock of its own: the simulation
// says what time it is. An install_snapshot message travels with its
// snapshot's data (here a state hash), as a node's shell sends the file
// beside the message.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "node/raft/rng.h"
#include "node/raft/types.h"

namespace cabildo::sim {

struct NetworkFaults {
    std::uint64_t delay_max = 5;      // time units, >= 1
    std::uint64_t drop_per_mille = 0;
    std::uint64_t duplicate_per_mille = 0;
};

struct SimMessage {
    raft::Message message;
    std::uint64_t snapshot_state = 0;  // install_snapshot: the snapshot's data
};

class SimNetwork {
public:
    explicit SimNetwork(raft::Rng& rng) : rng_(rng) {}

    void set_faults(const NetworkFaults& faults) { faults_ = faults; }
    const NetworkFaults& faults() const { return faults_; }

    void send(std::uint64_t now, raft::Message message, std::uint64_t snapshot_state = 0) {
        if (cut_.count({message.from, message.to})) return;
        if (rng_.chance(faults_.drop_per_mille, 1000)) return;
        SimMessage m{std::move(message), snapshot_state};
        if (rng_.chance(faults_.duplicate_per_mille, 1000)) enqueue(now, m);
        enqueue(now, std::move(m));
    }

    // Messages due at or before now, in delivery order. A link cut after a
    // message was sent still loses it.
    std::vector<SimMessage> take_due(std::uint64_t now) {
        std::vector<SimMessage> due;
        auto end = queue_.upper_bound({now, UINT64_MAX});
        for (auto it = queue_.begin(); it != end; ++it) {
            const raft::Message& m = it->second.message;
            if (!cut_.count({m.from, m.to})) due.push_back(std::move(it->second));
        }
        queue_.erase(queue_.begin(), end);
        return due;
    }

    void cut(raft::NodeId from, raft::NodeId to) { cut_.insert({from, to}); }
    void heal() { cut_.clear(); }
    bool partitioned() const { return !cut_.empty(); }
    std::size_t in_flight() const { return queue_.size(); }

private:
    void enqueue(std::uint64_t now, SimMessage message) {
        const std::uint64_t at = now + 1 + rng_.uniform(faults_.delay_max);
        queue_.emplace(std::make_pair(at, next_seq_++), std::move(message));
    }

    raft::Rng& rng_;
    NetworkFaults faults_;
    std::map<std::pair<std::uint64_t, std::uint64_t>, SimMessage> queue_;  // (due, seq)
    std::uint64_t next_seq_ = 0;
    std::set<std::pair<raft::NodeId, raft::NodeId>> cut_;
};

}  // namespace cabildo::sim
