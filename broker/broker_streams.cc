// Broker: the nodes' PUB streams in, one XPUB out. See broker.h.
//
// Every node publishes every kv/ event, so passing all of them would repeat
// each one per node: only the source node's (LeaderTracker::source()) pass.
// Heartbeats (hb/<id>) pass from every node: watchers use them to tell which
// nodes are alive and how far each has applied. The XPUB does the prefix
// filtering for its subscribers; the SUBs take everything.
#include <spdlog/spdlog.h>

#include "broker/broker.h"

namespace cabildo::broker {

namespace {

constexpr std::string_view heartbeat_prefix = "hb/";
constexpr std::string_view event_prefix = "kv/";

}  // namespace

void Broker::drain_sub(NodeLink& from) {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = node::recv_frames(from.sub, 2);
        if (!frames)
            return;
        if (frames->truncated || frames->parts.size() != 2) {
            ++bad_stream_messages_;
            continue;
        }
        const zmq::message_t& topic = frames->parts[0];
        const std::string_view name(static_cast<const char*>(topic.data()), topic.size());
        if (name.starts_with(heartbeat_prefix)) {
            on_heartbeat(from.id, *frames);
        } else if (name.starts_with(event_prefix)) {
            on_event(from.id, *frames);
        } else if (tracker_.source() == from.id) {
            // A topic this broker does not know (a later version's): pass it
            // once, from the source, like events.
            (void)node::send_frames(xpub_, {node::to_string(topic)},
                                    node::to_string(frames->parts[1]));
        }
    }
}

void Broker::on_heartbeat(NodeId from, const node::Frames& frames) {
    const zmq::message_t& body = frames.parts[1];
    auto status = wire::decode_reply(body.data(), body.size());
    if (!status || !status->status) {
        ++bad_stream_messages_;
        return;
    }
    tracker_.observe(from, *status->status, now_);
    if (status->status->role == "leader" && status->status->node_id == from) {
        leader_status_ = *status->status;  // learn_members() at the end of the turn
    }
    // PUB semantics: dropped for a subscriber that is too slow (HWM).
    (void)node::send_frames(xpub_, {node::to_string(frames.parts[0])}, node::to_string(body));
}

// The leader's heartbeat lists the members (its latest membership and the
// committed one): the broker links to members added since it started and
// drops the removed, instead of relying on its --member list for good.
void Broker::learn_members(const wire::NodeStatus& leader) {
    for (const wire::MemberInfo& m : leader.members) {
        if (tracker_.is_member(m.id)) continue;
        // tcp://host:port, the member's client port: its peer port is one less.
        const std::string& endpoint = m.client_endpoint;
        const std::size_t colon = endpoint.rfind(':');
        if (!endpoint.starts_with("tcp://") || colon == std::string::npos) continue;
        const int client_port = std::atoi(endpoint.c_str() + colon + 1);
        const std::string host = endpoint.substr(6, colon - 6);
        auto member = node::parse_member(std::to_string(m.id) + "=" + host + ":" +
                                         std::to_string(client_port - 1));
        if (!member) continue;
        links_.push_back(open_link(*member));
        tracker_.add_member(m.id);
        spdlog::info("broker: node {} joined the cluster; linked at {}", m.id, endpoint);
    }
    for (auto it = links_.begin(); it != links_.end();) {
        const NodeId id = it->id;
        const bool listed = std::any_of(leader.members.begin(), leader.members.end(),
                                        [id](const wire::MemberInfo& m) { return m.id == id; });
        if (listed || leader.members.empty()) {
            ++it;
            continue;
        }
        spdlog::info("broker: node {} left the cluster", id);
        tracker_.remove_member(id);
        it = links_.erase(it);
    }
}

void Broker::on_event(NodeId from, const node::Frames& frames) {
    if (tracker_.source() != from)
        return;
    const zmq::message_t& body = frames.parts[1];
    auto event = wire::decode_event(body.data(), body.size());
    if (!event) {
        ++bad_stream_messages_;
        return;
    }
    // Right after a switch the new source may be behind the old one: what
    // the old one already passed on is not passed again.
    if (switch_floor_ && event->revision <= *switch_floor_)
        return;
    switch_floor_.reset();
    last_event_revision_ = event->revision;
    ++events_passed_;
    (void)node::send_frames(xpub_, {node::to_string(frames.parts[0])}, node::to_string(body));
}

// Subscriptions from our subscribers: the XPUB has applied them already;
// read them only so they do not pile up.
void Broker::drain_xpub() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        zmq::message_t message;
        if (!xpub_.recv(message, zmq::recv_flags::dontwait))
            return;
    }
}

std::optional<std::string> Broker::leader_hint() const {
    if (!tracker_.leader(now_))
        return std::nullopt;
    return advertised_;
}

}  // namespace cabildo::broker
