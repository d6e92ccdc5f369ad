// LeaderTracker: what the broker believes about the cluster, learned only
// from the nodes' `hb/<id>` heartbeats (PROTOCOL.md section 10).
//
// Pure bookkeeping: it is fed decoded heartbeats with the time they arrived
// and answers "who leads", "which nodes are alive" and "which node is the
// kv/ event source". It owns no socket and reads no clock, so a unit test
// drives it with made-up times. It holds nothing that matters: a restarted
// broker rebuilds it from the next heartbeats (100 ms apart).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wire/client_messages.h"

namespace cabildo::broker {

using NodeId = std::uint64_t;
using Clock = std::chrono::steady_clock;

// Invariant: every key of nodes_ is a member given at construction; source_,
// when set, is a member.
class LeaderTracker {
public:
    // `members`: the cluster's node ids. A node is alive while its last
    // heartbeat is at most `alive_window` old.
    LeaderTracker(std::vector<NodeId> members, std::chrono::milliseconds alive_window);

    // A heartbeat from `from` (the node whose PUB socket carried it). Ignored
    // when `from` is not a member.
    void observe(NodeId from, const wire::NodeStatus& status, Clock::time_point now);

    // The membership changed (as the leader's heartbeat lists it).
    void add_member(NodeId id) { nodes_.try_emplace(id); }
    void remove_member(NodeId id);
    bool is_member(NodeId id) const { return nodes_.count(id) != 0; }

    bool alive(NodeId id, Clock::time_point now) const;
    // Alive members, in id order.
    std::vector<NodeId> alive_nodes(Clock::time_point now) const;
    // The leader among alive nodes: the alive node that says it is leader in
    // the highest term, else the alive leader named (leader_id) by the alive
    // node with the highest term. nullopt when none.
    std::optional<NodeId> leader(Clock::time_point now) const;
    // Where to send a request, best first: the leader, then the other alive
    // nodes (they forward to their leader themselves). When no node is
    // alive, every member (nothing is known, e.g. right after start).
    std::vector<NodeId> targets(Clock::time_point now) const;

    // The node whose kv/ events the broker passes on. Sticky: it changes only
    // when the current source is no longer alive; a new one is the leader,
    // else the lowest alive id. nullopt when no node is alive.
    std::optional<NodeId> source() const { return source_; }
    // Re-evaluates source(); returns true when it changed.
    bool refresh_source(Clock::time_point now);

private:
    struct NodeView {
        bool heard = false;
        Clock::time_point last_heartbeat;
        std::string role;
        std::uint64_t term = 0;
        NodeId leader_id = 0;  // 0 = the node knows no leader
    };

    std::map<NodeId, NodeView> nodes_;
    std::chrono::milliseconds alive_window_;
    std::optional<NodeId> source_;
};

}  // namespace cabildo::broker
