// PeerTransport: the node's Raft traffic over ZeroMQ.
//
// A bound ROUTER receives [sender-id, message] from peers; one DEALER per
// peer, whose routing id is "id/uuid/nonce" (this node's id, its data
// directory's uuid, and a random nonce per socket), sends to them.
// Everything goes through wire/ (decode never trusts), and a message whose
// claimed sender does not match the connection is dropped: with security
// on, the member whose key the CURVE handshake proved (node_security.h);
// without, the id its routing id names. The ROUTER never hands a routing id
// over to a second connection (no router_handover): each DEALER's is its
// own, so a newcomer cannot take over a live peer's connection. Sends never block: a
// backlogged peer loses the message and Raft retransmits. Snapshot chunks
// and their acks (wire/snapshot_messages.h) share the sockets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include <zmq.hpp>

#include "node/node_config.h"
#include "node/frames.h"
#include "node/node_security.h"
#include "node/raft/types.h"
#include "wire/snapshot_messages.h"

namespace cabildo::node {

// Options for a socket that connects to another node (Raft DEALERs,
// forwarding DEALER and PUSH): reconnect soon after a failure, give up a
// connect attempt after connect_timeout, and let the kernel drop a
// connection whose data has gone unacknowledged for tcp_maxrt
// (TCP_USER_TIMEOUT). Without the last, after a partition heals messages
// wait behind the old connection's retransmission backoff, which has grown
// to seconds (a soak run saw a healed node hear nothing from the leader for
// 12 s); with it they go over a fresh connection within about a second.
// (ZeroMQ heartbeats do the same; the kernel's timer costs nothing per
// message.)
void set_node_link_options(zmq::socket_t& socket);

class PeerTransport {
public:
    PeerTransport(zmq::context_t& context, const NodeConfig& config, const NodeSecurity& security);

    zmq::socket_t& router() { return router_; }
    // The config's members changed: link to the new ones, drop the gone.
    void update_members();
    void send(const raft::Message& message);
    // False if the peer is backlogged (the piece was not sent).
    bool send(const wire::SnapshotPiece& piece);

    // One inbound message: a Raft message, a snapshot piece, or a peer's
    // notice that it refuses this node (its data directory is not the one
    // the cluster knows under its id).
    struct Inbound {
        std::optional<raft::Message> message;
        std::optional<wire::SnapshotPiece> piece;
        std::optional<std::string> refused;
    };
    // Non-blocking; empty when nothing valid is waiting (invalid input is
    // counted and dropped). Reads at most one message.
    Inbound receive(bool& drained);

    std::uint64_t rejected() const { return rejected_; }
    // The data-directory uuid a peer's messages carry ("" if none heard).
    std::string seen_uuid(raft::NodeId id) const;
    void forget_uuid(raft::NodeId id) { seen_uuids_.erase(id); }
    std::uint64_t dropped() const { return dropped_; }

private:
    std::optional<wire::SnapshotPiece> receive_piece(Frames& frames);
    // The sender of a message that says it is from `claimed`, on the
    // connection with this routing id ("id/uuid/nonce"), whose `body` frame
    // carries its proven key when security is on: a member whose bound uuid
    // (if any) the routing id carries.
    bool accept_sender(const std::string& identity, const zmq::message_t& body,
                       raft::NodeId claimed);
    void refuse(raft::NodeId id, const std::string& uuid, const std::string& bound);

    const NodeConfig& config_;
    const NodeSecurity& security_;
    zmq::context_t& context_;
    zmq::socket_t router_;
    struct Dealer {
        zmq::socket_t socket;
        std::string endpoint;
    };
    std::map<raft::NodeId, Dealer> dealers_;
    std::uint64_t rejected_ = 0;  // malformed or spoofed inbound messages
    std::uint64_t dropped_ = 0;   // outbound messages to a backlogged peer
    std::map<raft::NodeId, std::string> seen_uuids_;
    std::map<raft::NodeId, std::chrono::steady_clock::time_point> refused_at_;  // notices sent
};

}  // namespace cabildo::node
