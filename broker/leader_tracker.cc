// LeaderTracker: heartbeat bookkeeping; see leader_tracker.h.
#include "broker/leader_tracker.h"

namespace cabildo::broker {

LeaderTracker::LeaderTracker(std::vector<NodeId> members, std::chrono::milliseconds alive_window)
    : alive_window_(alive_window) {
    for (NodeId id : members) nodes_.emplace(id, NodeView{});
}

void LeaderTracker::observe(NodeId from, const wire::NodeStatus& status, Clock::time_point now) {
    auto it = nodes_.find(from);
    if (it == nodes_.end())
        return;
    NodeView& view = it->second;
    view.heard = true;
    view.last_heartbeat = now;
    view.role = status.role;
    view.term = status.term;
    view.leader_id = status.leader_id;
}

void LeaderTracker::remove_member(NodeId id) {
    nodes_.erase(id);
    if (source_ == id) source_.reset();
}

bool LeaderTracker::alive(NodeId id, Clock::time_point now) const {
    auto it = nodes_.find(id);
    if (it == nodes_.end() || !it->second.heard)
        return false;
    return now - it->second.last_heartbeat <= alive_window_;
}

std::vector<NodeId> LeaderTracker::alive_nodes(Clock::time_point now) const {
    std::vector<NodeId> out;
    for (const auto& [id, view] : nodes_) {
        if (alive(id, now))
            out.push_back(id);
    }
    return out;
}

std::optional<NodeId> LeaderTracker::leader(Clock::time_point now) const {
    std::optional<NodeId> self_declared;
    std::uint64_t self_declared_term = 0;
    std::optional<NodeId> named;
    std::uint64_t named_term = 0;
    for (const auto& [id, view] : nodes_) {
        if (!alive(id, now))
            continue;
        // Two nodes may both say "leader" for a moment (an old leader that
        // has not yet heard of the new term): the higher term wins.
        if (view.role == "leader" && (!self_declared || view.term > self_declared_term)) {
            self_declared = id;
            self_declared_term = view.term;
        }
        if (view.leader_id != 0 && alive(view.leader_id, now) &&
            (!named || view.term > named_term)) {
            named = view.leader_id;
            named_term = view.term;
        }
    }
    return self_declared ? self_declared : named;
}

std::vector<NodeId> LeaderTracker::targets(Clock::time_point now) const {
    std::vector<NodeId> out;
    const std::optional<NodeId> lead = leader(now);
    if (lead)
        out.push_back(*lead);
    for (NodeId id : alive_nodes(now)) {
        if (id != lead)
            out.push_back(id);
    }
    if (out.empty()) {
        for (const auto& [id, view] : nodes_) out.push_back(id);
    }
    return out;
}

bool LeaderTracker::refresh_source(Clock::time_point now) {
    if (source_ && alive(*source_, now))
        return false;
    std::optional<NodeId> next = leader(now);
    if (!next) {
        const std::vector<NodeId> alive_ids = alive_nodes(now);
        if (!alive_ids.empty())
            next = alive_ids.front();
    }
    const bool changed = next != source_;
    source_ = next;
    return changed;
}

}  // namespace cabildo::broker
