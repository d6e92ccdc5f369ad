// PeerTransport; see peer_transport.h.
#include "node/peer_transport.h"

#include <spdlog/spdlog.h>

#include "node/frames.h"
#include "wire/protocol.h"
#include "wire/raft_messages.h"

namespace cabildo::node {

namespace {
constexpr int peer_hwm = 10000;
constexpr std::size_t peer_frames_max = 2;  // [identity, message]
}  // namespace

void set_node_link_options(zmq::socket_t& socket) {
    socket.set(zmq::sockopt::immediate, 1);  // no queueing into a dead connection
    socket.set(zmq::sockopt::reconnect_ivl, 50);
    socket.set(zmq::sockopt::reconnect_ivl_max, 500);
    socket.set(zmq::sockopt::connect_timeout, 500);
    socket.set(zmq::sockopt::tcp_maxrt, 1000);
}

PeerTransport::PeerTransport(zmq::context_t& context, const NodeConfig& config)
    : config_(config), router_(context, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    // A restarted peer reconnects with the same identity: take it over.
    router_.set(zmq::sockopt::router_handover, 1);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::raft_frame_bytes_max));
    router_.set(zmq::sockopt::rcvhwm, peer_hwm);
    router_.bind(config.self().peer_endpoint());
    const std::string identity = std::to_string(config.id);
    for (const Member& m : config.members) {
        if (m.id == config.id) continue;
        zmq::socket_t dealer(context, zmq::socket_type::dealer);
        dealer.set(zmq::sockopt::linger, 0);
        dealer.set(zmq::sockopt::routing_id, identity);
        dealer.set(zmq::sockopt::sndhwm, peer_hwm);
        set_node_link_options(dealer);
        dealer.connect(m.peer_endpoint());
        dealers_.emplace(m.id, std::move(dealer));
    }
}

void PeerTransport::send(const raft::Message& message) {
    auto it = dealers_.find(message.to);
    CABILDO_ASSERT(it != dealers_.end(), "message to a non-member");
    const std::string body = wire::encode_message(message);
    if (!it->second.send(zmq::buffer(body), zmq::send_flags::dontwait)) ++dropped_;
}

std::optional<raft::Message> PeerTransport::receive(bool& drained) {
    drained = false;
    auto frames = recv_frames(router_, peer_frames_max);
    if (!frames) {
        drained = true;
        return std::nullopt;
    }
    if (frames->truncated || frames->parts.size() != 2) {
        ++rejected_;
        spdlog::warn("peer: dropped a message of unexpected shape ({} frames)",
                     frames->parts.size());
        return std::nullopt;
    }
    const zmq::message_t& body = frames->parts[1];
    auto message = wire::decode_message(body.data(), body.size());
    if (!message) {
        ++rejected_;
        spdlog::warn("peer: dropped a malformed message: {}", message.error().detail);
        return std::nullopt;
    }
    const std::string identity = to_string(frames->parts[0]);
    if (identity != std::to_string(message->from) || message->to != config_.id ||
        config_.member(message->from) == nullptr) {
        ++rejected_;
        spdlog::warn("peer: dropped a message from '{}' claiming {} -> {}", identity,
                     message->from, message->to);
        return std::nullopt;
    }
    return std::move(*message);
}

}  // namespace cabildo::node
