// TopModel (top_model.h): heartbeats in, rows and leader changes out.
#include "client/top_model.h"

#include <algorithm>
#include <utility>

namespace cabildo::client {

TopModel::TopModel(std::vector<std::string> endpoints, TopInstant start) : start_(start.steady) {
    for (std::string& endpoint : endpoints) {
        given_.insert(endpoint);
        add_endpoint(endpoint);
    }
}

void TopModel::on_heartbeat(const std::string& endpoint, const wire::NodeStatus& status,
                            TopInstant now) {
    if (status.node_id == 0)
        return;
    heard_any_ = true;
    endpoint_ids_[endpoint] = status.node_id;
    auto [it, added] = nodes_.try_emplace(status.node_id, Node{endpoint, now.steady, {}, {}});
    Node& node = it->second;
    node.last_heartbeat = now.steady;
    node.status = status;
    learn_members(status, now);
    tick(now);
}

// A node's members name the rest of the cluster: each becomes an entry (a
// row) and an endpoint to subscribe to. A node's own entry takes the client
// endpoint it advertises, which may be spelled unlike the one given.
void TopModel::learn_members(const wire::NodeStatus& status, TopInstant now) {
    for (const wire::MemberInfo& member : status.members) {
        if (member.id == 0 || member.client_endpoint.empty())
            continue;
        auto [it, added] =
            nodes_.try_emplace(member.id, Node{member.client_endpoint, now.steady, {}, {}});
        if (member.id == status.node_id)
            it->second.endpoint = member.client_endpoint;
        add_endpoint(member.client_endpoint);
    }
}

void TopModel::add_endpoint(const std::string& endpoint) {
    if (endpoints_.size() >= top_endpoints_max)
        return;
    if (std::find(endpoints_.begin(), endpoints_.end(), endpoint) == endpoints_.end())
        endpoints_.push_back(endpoint);
}

void TopModel::tick(TopInstant now) {
    const TopLeader observed = observed_leader(now.steady);
    if (!leader_known_) {
        if (!any_live(now.steady))
            return;
        leader_known_ = true;
        leader_changes_.push_back(
            TopLeaderChange{now, observed.term, observed.leader_id, 0, /*first=*/true});
        leader_ = observed;
        return;
    }
    const bool leader_changed = observed.leader_id != leader_.leader_id;
    // The same node elected again in a later term is a new leadership.
    const bool reelected = observed.leader_id != 0 && observed.term != leader_.term;
    if (leader_changed || reelected)
        record_leader_change(observed, now);
    leader_ = observed;
}

void TopModel::record_leader_change(const TopLeader& observed, TopInstant now) {
    leader_changes_.push_back(
        TopLeaderChange{now, observed.term, observed.leader_id, leader_.leader_id, false});
    while (leader_changes_.size() > top_leader_changes_max) leader_changes_.pop_front();
}

bool TopModel::is_live(const Node& node, TopSteadyTime now) const {
    return node.last_heartbeat && now - *node.last_heartbeat <= top_silence_max;
}

TopNodeState TopModel::state_of(const Node& node, TopSteadyTime now) const {
    if (is_live(node, now))
        return node.status->recovering ? TopNodeState::recovering : TopNodeState::live;
    const TopSteadyTime since = node.last_heartbeat.value_or(std::max(node.known_since, start_));
    return !node.last_heartbeat && now - since <= top_silence_max ? TopNodeState::waiting
                                                                  : TopNodeState::down;
}

bool TopModel::any_live(TopSteadyTime now) const {
    return std::any_of(nodes_.begin(), nodes_.end(),
                       [&](const auto& entry) { return is_live(entry.second, now); });
}

bool TopModel::listed_by_live_node(std::uint64_t node_id, TopSteadyTime now) const {
    for (const auto& [id, node] : nodes_) {
        if (!is_live(node, now))
            continue;
        for (const wire::MemberInfo& member : node.status->members) {
            if (member.id == node_id)
                return true;
        }
    }
    return false;
}

// The live nodes at the highest term among them; their leader is the one
// that says it leads, else the one they name. A dead leader's last
// heartbeat counts only until it is down.
TopLeader TopModel::observed_leader(TopSteadyTime now) const {
    TopLeader observed{leader_.term, 0};
    bool seen = false;
    for (const auto& [id, node] : nodes_) {
        if (!is_live(node, now))
            continue;
        if (!seen || node.status->term > observed.term)
            observed = TopLeader{node.status->term, 0};
        seen = true;
    }
    for (const auto& [id, node] : nodes_) {
        if (!is_live(node, now) || node.status->term != observed.term)
            continue;
        if (node.status->role == "leader")
            return TopLeader{observed.term, id};
        if (observed.leader_id == 0)
            observed.leader_id = node.status->leader_id;
    }
    return observed;
}

// What a node could apply by now: the live leader's commit index, else the
// highest commit index heard (from live nodes if any).
std::uint64_t TopModel::lag_reference(TopSteadyTime now) const {
    auto leader = nodes_.find(leader_.leader_id);
    if (leader != nodes_.end() && is_live(leader->second, now))
        return leader->second.status->commit_index;
    const bool live_only = any_live(now);
    std::uint64_t reference = 0;
    for (const auto& [id, node] : nodes_) {
        if (node.status && (!live_only || is_live(node, now)))
            reference = std::max(reference, node.status->commit_index);
    }
    return reference;
}

TopRow TopModel::node_row(std::uint64_t node_id, const Node& node, TopSteadyTime now,
                          std::uint64_t reference) const {
    TopRow row;
    row.node_id = node_id;
    row.endpoint = node.endpoint;
    row.state = state_of(node, now);
    row.status = node.status;
    if (node.status) {
        const std::uint64_t applied = node.status->applied_index;
        row.lag = reference > applied ? reference - applied : 0;
    }
    if (node.last_heartbeat) {
        row.age = std::chrono::duration_cast<std::chrono::milliseconds>(now - *node.last_heartbeat);
    }
    row.is_leader = leader_.leader_id == node_id && row.state != TopNodeState::down;
    return row;
}

std::vector<TopRow> TopModel::rows(TopSteadyTime now) const {
    const std::uint64_t reference = lag_reference(now);
    const bool live = any_live(now);
    std::set<std::string> resolved;
    std::vector<TopRow> rows;
    for (const auto& [id, node] : nodes_) {
        resolved.insert(node.endpoint);
        const bool removed = live && state_of(node, now) == TopNodeState::down &&
                             !given_.contains(node.endpoint) && !listed_by_live_node(id, now);
        if (!removed)
            rows.push_back(node_row(id, node, now, reference));
    }
    for (const auto& [endpoint, id] : endpoint_ids_) resolved.insert(endpoint);
    for (const std::string& endpoint : endpoints_) {
        if (!given_.contains(endpoint) || resolved.contains(endpoint))
            continue;
        TopRow row;
        row.endpoint = endpoint;
        row.state = now - start_ <= top_silence_max ? TopNodeState::waiting : TopNodeState::down;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace cabildo::client
