// PeerTransport; see peer_transport.h.
#include "node/peer_transport.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>

#include "node/frames.h"
#include "wire/protocol.h"
#include "wire/raft_messages.h"

namespace cabildo::node {

namespace {
constexpr int peer_hwm = 10000;
constexpr std::size_t peer_frames_max = 4;  // [identity, message] or a snapshot piece
constexpr const char* refused_marker = "cabildo-refused";

// Logs the 1st, 2nd, 4th, 8th... occurrence: a peer gone wrong cannot flood the log.
bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }

// This node's routing id on a new DEALER: "id/uuid/nonce". The nonce makes
// it the socket's own: a restarted node (or a second socket of the same
// node) never collides with a connection the ROUTER still holds.
std::string routing_id_of(const NodeConfig& config) {
    static std::mt19937_64 rng{std::random_device{}()};
    return std::to_string(config.id) + "/" + config.uuid + "/" +
           fmt::format("{:016x}", rng());
}
}  // namespace

void set_node_link_options(zmq::socket_t& socket) {
    socket.set(zmq::sockopt::immediate, 1);  // no queueing into a dead connection
    socket.set(zmq::sockopt::reconnect_ivl, 50);
    socket.set(zmq::sockopt::reconnect_ivl_max, 500);
    socket.set(zmq::sockopt::connect_timeout, 500);
    socket.set(zmq::sockopt::tcp_maxrt, 1000);
}

PeerTransport::PeerTransport(zmq::context_t& context, const NodeConfig& config,
                             const NodeSecurity& security)
    : config_(config), security_(security), context_(context),
      router_(context, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    security_.serve(router_, "peer");
    // A peer's DEALER that lost its connection (a partition) reconnects
    // with the same routing id, which the ROUTER refuses while it still
    // holds the old connection; and a ROUTER that only receives would never
    // notice that one is dead. Its pings do: a silent connection is closed
    // within a second, and the reconnect then gets through.
    router_.set(zmq::sockopt::heartbeat_ivl, 250);
    router_.set(zmq::sockopt::heartbeat_timeout, 1000);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::raft_frame_bytes_max));
    router_.set(zmq::sockopt::rcvhwm, peer_hwm);
    router_.bind(config.self().peer_endpoint());
    update_members();
}

// One DEALER per member but this node, at the member's address; a member
// whose address changed gets a new one.
void PeerTransport::update_members() {
    // A removed member's uuid goes with it: added again, it is bound anew.
    std::erase_if(seen_uuids_, [&](const auto& kv) { return config_.member(kv.first) == nullptr; });
    std::erase_if(dealers_, [&](const auto& kv) {
        const Member* m = config_.member(kv.first);
        return m == nullptr || m->peer_endpoint() != kv.second.endpoint;
    });
    for (const Member& m : config_.members) {
        if (m.id == config_.id || dealers_.count(m.id) != 0) continue;
        zmq::socket_t dealer(context_, zmq::socket_type::dealer);
        if (!security_.link_to_peer(dealer, m.id)) continue;  // tried again after a reload
        dealer.set(zmq::sockopt::linger, 0);
        dealer.set(zmq::sockopt::routing_id, routing_id_of(config_));
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

std::string PeerTransport::seen_uuid(raft::NodeId id) const {
    auto it = seen_uuids_.find(id);
    return it == seen_uuids_.end() ? std::string() : it->second;
}

bool PeerTransport::accept_sender(const std::string& identity, const zmq::message_t& body,
                                  raft::NodeId claimed) {
    const std::size_t slash = identity.find('/');
    const std::string id = identity.substr(0, slash);
    const std::size_t end = slash == std::string::npos ? slash : identity.find('/', slash + 1);
    const std::string uuid =
        slash == std::string::npos ? "" : identity.substr(slash + 1, end - slash - 1);
    const Member* m = config_.member(claimed);
    if (id != std::to_string(claimed) || m == nullptr) return false;
    if (security_.enabled() && security_.member_of(body) != claimed) return false;
    if (!m->uuid.empty() && m->uuid != uuid) {
        refuse(claimed, uuid, m->uuid);
        return false;
    }
    seen_uuids_[claimed] = uuid;
    return true;
}

// A node under a known id with another data directory (wiped, replaced):
// its votes and acknowledgements would count what it forgot. Refused, and
// told so, at most once a second.
void PeerTransport::refuse(raft::NodeId id, const std::string& uuid, const std::string& bound) {
    ++rejected_;
    const auto now = std::chrono::steady_clock::now();
    auto& last = refused_at_[id];
    if (now - last < std::chrono::seconds(1)) return;
    last = now;
    const std::string text = "node " + std::to_string(id) + " came back with data directory " +
                             (uuid.empty() ? "(none)" : uuid) + ", but the cluster knows it by " +
                             bound + ": it was wiped or replaced, and the votes and entries it " +
                             "held are gone. Remove it (cabildo member remove " +
                             std::to_string(id) + "), then add it again and start it with --join";
    spdlog::error("peer: refused node {}: {}", id, text);
    auto it = dealers_.find(id);
    if (it != dealers_.end()) {
        (void)send_frames(it->second.socket, {refused_marker}, text);
    }
}

std::optional<wire::SnapshotPiece> PeerTransport::receive_piece(Frames& frames) {
    const std::size_t n = frames.parts.size();
    const zmq::message_t& header = frames.parts[2];
    auto piece = wire::decode_snapshot_header(header.data(), header.size());
    if (!piece) {
        ++rejected_;
        spdlog::warn("peer: dropped a malformed snapshot piece: {}", piece.error().detail);
        return std::nullopt;
    }
    const bool chunk = piece->kind == wire::SnapshotPieceKind::chunk;
    const std::string identity = to_string(frames.parts[0]);
    if (piece->to != config_.id || n != (chunk ? 4u : 3u) ||
        (chunk && frames.parts[3].size() > wire::snapshot_chunk_bytes_max) ||
        !accept_sender(identity, header, piece->from)) {
        ++rejected_;
        if (worth_logging(rejected_)) {
            spdlog::warn("peer: dropped a snapshot piece from '{}' claiming {} -> {} ({} so far)",
                         identity, piece->from, piece->to, rejected_);
        }
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
        return {std::nullopt, receive_piece(*frames), std::nullopt};
    }
    if (!frames->truncated && frames->parts.size() == 3 &&
        to_string(frames->parts[1]) == refused_marker) {
        const std::string identity = to_string(frames->parts[0]);
        const std::string id = identity.substr(0, identity.find('/'));
        for (const Member& m : config_.members) {
            if (std::to_string(m.id) == id && m.id != config_.id &&
                (!security_.enabled() || security_.member_of(frames->parts[2]) == m.id)) {
                return {std::nullopt, std::nullopt,
                        "node " + id + " refuses this node: " + to_string(frames->parts[2])};
            }
        }
        return {};
    }
    if (frames->truncated || frames->parts.size() != 2) {
        if (worth_logging(++rejected_)) {
            spdlog::warn("peer: dropped a message of unexpected shape ({} frames; {} rejected "
                         "so far)",
                         frames->parts.size(), rejected_);
        }
        return {};
    }
    const zmq::message_t& body = frames->parts[1];
    auto message = wire::decode_message(body.data(), body.size());
    if (!message) {
        if (worth_logging(++rejected_)) {
            spdlog::warn("peer: dropped a malformed message: {} ({} rejected so far)",
                         message.error().detail, rejected_);
        }
        return {};
    }
    const std::string identity = to_string(frames->parts[0]);
    if (message->to != config_.id || !accept_sender(identity, body, message->from)) {
        ++rejected_;
        if (worth_logging(rejected_)) {
            spdlog::warn("peer: dropped a message from '{}' claiming {} -> {} ({} so far)",
                         identity, message->from, message->to, rejected_);
        }
        return {};
    }
    return {std::move(*message), std::nullopt, std::nullopt};
}

}  // namespace cabildo::node
