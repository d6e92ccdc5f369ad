// PeerTransport; see peer_transport.h.
#include "node/peer_transport.h"

#include <spdlog/spdlog.h>

#include "node/frames.h"
#include "wire/protocol.h"
#include "wire/raft_messages.h"

namespace cabildo::node {

namespace {
constexpr int peer_hwm = 10000;
constexpr std::size_t peer_frames_max = 4;  // [identity, message] or a snapshot piece
}  // namespace

void set_node_link_options(zmq::socket_t& socket) {
    socket.set(zmq::sockopt::immediate, 1);  // no queueing into a dead connection
    socket.set(zmq::sockopt::reconnect_ivl, 50);
    socket.set(zmq::sockopt::reconnect_ivl_max, 500);
    socket.set(zmq::sockopt::connect_timeout, 500);
    socket.set(zmq::sockopt::tcp_maxrt, 1000);
}

PeerTransport::PeerTransport(zmq::context_t& context, const NodeConfig& config)
    : config_(config), context_(context), router_(context, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    // A restarted peer reconnects with the same identity: take it over.
    router_.set(zmq::sockopt::router_handover, 1);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::raft_frame_bytes_max));
    router_.set(zmq::sockopt::rcvhwm, peer_hwm);
    router_.bind(config.self().peer_endpoint());
    update_members();
}

// One DEALER per member but this node, at the member's address; a member
// whose address changed gets a new one.
void PeerTransport::update_members() {
    const std::string identity = std::to_string(config_.id);
    std::erase_if(dealers_, [&](const auto& kv) {
        const Member* m = config_.member(kv.first);
        return m == nullptr || m->peer_endpoint() != kv.second.endpoint;
    });
    for (const Member& m : config_.members) {
        if (m.id == config_.id || dealers_.count(m.id) != 0) continue;
        zmq::socket_t dealer(context_, zmq::socket_type::dealer);
        dealer.set(zmq::sockopt::linger, 0);
        dealer.set(zmq::sockopt::routing_id, identity);
        dealer.set(zmq::sockopt::sndhwm, peer_hwm);
        set_node_link_options(dealer);
        dealer.connect(m.peer_endpoint());
        dealers_.emplace(m.id, Dealer{std::move(dealer), m.peer_endpoint()});
    }
}

void PeerTransport::send(const raft::Message& message) {
    auto it = dealers_.find(message.to);
    if (it == dealers_.end()) {  // a member whose address is not known (yet)
        ++dropped_;
        return;
    }
    const std::string body = wire::encode_message(message);
    if (!it->second.socket.send(zmq::buffer(body), zmq::send_flags::dontwait)) ++dropped_;
}

bool PeerTransport::send(const wire::SnapshotPiece& piece) {
    auto it = dealers_.find(piece.to);
    if (it == dealers_.end()) return false;
    std::vector<std::string> head{wire::snapshot_marker, wire::encode_snapshot_header(piece)};
    if (piece.kind == wire::SnapshotPieceKind::ack) {
        const std::string header = head[1];
        head.pop_back();
        return send_frames(it->second.socket, head, header);
    }
    return send_frames(it->second.socket, head, piece.data);
}

std::optional<wire::SnapshotPiece> PeerTransport::receive_piece(Frames& frames,
                                                                const std::string& identity) {
    const std::size_t n = frames.parts.size();
    const zmq::message_t& header = frames.parts[2];
    auto piece = wire::decode_snapshot_header(header.data(), header.size());
    if (!piece) {
        ++rejected_;
        spdlog::warn("peer: dropped a malformed snapshot piece: {}", piece.error().detail);
        return std::nullopt;
    }
    const bool chunk = piece->kind == wire::SnapshotPieceKind::chunk;
    if (identity != std::to_string(piece->from) || piece->to != config_.id ||
        config_.member(piece->from) == nullptr || n != (chunk ? 4u : 3u) ||
        (chunk && frames.parts[3].size() > wire::snapshot_chunk_bytes_max)) {
        ++rejected_;
        spdlog::warn("peer: dropped a snapshot piece from '{}' claiming {} -> {}", identity,
                     piece->from, piece->to);
        return std::nullopt;
    }
    if (chunk) piece->data = to_string(frames.parts[3]);
    return std::move(*piece);
}

PeerTransport::Inbound PeerTransport::receive(bool& drained) {
    drained = false;
    auto frames = recv_frames(router_, peer_frames_max);
    if (!frames) {
        drained = true;
        return {};
    }
    if (!frames->truncated && frames->parts.size() >= 3 &&
        to_string(frames->parts[1]) == wire::snapshot_marker) {
        return {std::nullopt, receive_piece(*frames, to_string(frames->parts[0]))};
    }
    if (frames->truncated || frames->parts.size() != 2) {
        ++rejected_;
        spdlog::warn("peer: dropped a message of unexpected shape ({} frames)",
                     frames->parts.size());
        return {};
    }
    const zmq::message_t& body = frames->parts[1];
    auto message = wire::decode_message(body.data(), body.size());
    if (!message) {
        ++rejected_;
        spdlog::warn("peer: dropped a malformed message: {}", message.error().detail);
        return {};
    }
    const std::string identity = to_string(frames->parts[0]);
    if (identity != std::to_string(message->from) || message->to != config_.id ||
        config_.member(message->from) == nullptr) {
        ++rejected_;
        spdlog::warn("peer: dropped a message from '{}' claiming {} -> {}", identity,
                     message->from, message->to);
        return {};
    }
    return {std::move(*message), std::nullopt};
}

}  // namespace cabildo::node
