// NodeSecurity: CurveZMQ and the ACL on one node's sockets (PROTOCOL.md
// section 12). Off (no --curve-key), every call is a no-op that allows.
//
// On: every endpoint the node binds is a CURVE server whose ZAP domain
// names it ("peer", "client", "pull", "pub"), and the ZAP handler, run in
// the node's loop, lets in only keys the ACL file lists for that domain:
// member keys everywhere, identity keys on client and pull, and on pub
// only identities with the watch right somewhere. libzmq then stamps each
// message with the key that was proven in the handshake (User-Id), and
// that key, never a frame the sender chose, says who sent it: the peer
// transport takes a Raft message only from the member it claims to be,
// the client side checks each request against its identity's rights. A
// removed or changed identity takes effect on the next request (the key
// is looked up in the ACL each time), open connections included.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "node/node_config.h"
#include "wire/client_messages.h"
#include "wire/security/rate_limit.h"
#include "wire/security/zap.h"

namespace cabildo::node {

class NodeSecurity {
public:
    using Clock = std::chrono::steady_clock;

    NodeSecurity(zmq::context_t& context, const std::optional<SecurityConfig>& config);
    NodeSecurity(const NodeSecurity&) = delete;  // the ZAP handler points back at it
    NodeSecurity& operator=(const NodeSecurity&) = delete;

    bool enabled() const { return config_.has_value(); }

    // The server side of an endpoint, before bind: domain is one of the four.
    void serve(zmq::socket_t& socket, const char* domain) const;
    // The client side of a link to member `id`'s peer endpoint, before
    // connect; false if the ACL has no key for it (no link can be made).
    bool link_to_peer(zmq::socket_t& socket, raft::NodeId id) const;
    // ... to another member's client or PULL endpoint (the server key).
    void link_to_server(zmq::socket_t& socket) const;

    // The ZAP handler's socket to poll (nullptr when off), and its turn.
    zmq::socket_t* zap_socket() { return zap_ ? &zap_->socket() : nullptr; }
    void handle_zap() {
        if (zap_) zap_->handle();
    }

    // The member whose key sent this message (node_none: not a member's).
    raft::NodeId member_of(const zmq::message_t& message) const;

    struct Denial {
        std::string_view code;  // permission_denied or rate_limited
        std::string message;
    };
    // May the sender of this message make this request now? Members may do
    // anything (they forward their clients' requests, which they checked).
    std::optional<Denial> admit(const zmq::message_t& message, const wire::ClientRequest& request,
                                Clock::time_point now);

    // SIGHUP: reads the ACL file again. A file that does not parse, or that
    // no longer holds this node's key, is refused (logged; the ACL in force
    // stays). True if the new one is in force.
    bool reload();
    // An encoded event as the PUB stream carries it: without its value when
    // on (values go only to those who may read them, through watch_from);
    // empty: publish nothing.
    std::string public_event(const std::string& encoded) const;

    std::uint64_t denied() const { return denied_; }

private:
    std::optional<std::string> decide(const std::string& domain, const std::string& key) const;

    std::optional<SecurityConfig> config_;
    std::optional<wire::ZapHandler> zap_;
    wire::RateLimiter rates_;
    std::uint64_t denied_ = 0;
};

}  // namespace cabildo::node
