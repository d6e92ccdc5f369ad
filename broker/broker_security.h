// BrokerSecurity: CurveZMQ and the ACL on the broker's sockets (PROTOCOL.md
// section 12, "The broker"). Off (no --curve-key), every call is a no-op
// that allows.
//
// On, the broker is a client of the nodes and a server to its own clients:
//
// - Towards the nodes (DEALER, PUSH, SUB per node) it is a CURVE client
//   with its own key pair, an identity in the nodes' ACL, and expects the
//   cluster's server key. The nodes see only that identity: they cannot
//   tell the broker's clients apart, so the broker checks them itself.
// - Its front sockets (ROUTER, PULL, XPUB) are CURVE servers with the same
//   server key, so a client needs one server public key whether it talks
//   to a node or to the broker. Its own ZAP handler (bound before them, run
//   in the broker's loop) lets in identity keys of the broker's --acl file:
//   on "pub" only those with the watch right somewhere.
// - Each request and pushed write is checked against its sender's identity
//   (the key the handshake proved, libzmq's User-Id, looked up in the ACL
//   for each message, so a reload applies to open connections too), and
//   against its requests_per_s, here at the broker: the nodes would only
//   count the broker's own identity.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "broker/broker_config.h"
#include "wire/security/rate_limit.h"
#include "wire/security/zap.h"

namespace cabildo::broker {

class BrokerSecurity {
public:
    using Clock = std::chrono::steady_clock;

    // On: binds the ZAP handler in `context`, so construct this before any
    // front socket is bound.
    BrokerSecurity(zmq::context_t& context, const std::optional<BrokerSecurityConfig>& config);
    BrokerSecurity(const BrokerSecurity&) = delete;  // the ZAP handler points back at it
    BrokerSecurity& operator=(const BrokerSecurity&) = delete;

    bool enabled() const { return config_.has_value(); }

    // A front socket, before bind: domain "client", "pub" or "pull".
    void serve(zmq::socket_t& socket, const char* domain) const;
    // A socket to a node's client, PULL or PUB endpoint, before connect.
    void link_to_node(zmq::socket_t& socket) const;

    // The ZAP handler's socket to poll (nullptr when off), and its turn.
    zmq::socket_t* zap_socket() { return zap_ ? &zap_->socket() : nullptr; }
    void handle_zap() {
        if (zap_) zap_->handle();
    }

    struct Denial {
        std::string_view code;  // bad_request (or too_large), permission_denied, rate_limited
        std::string message;
    };
    // May the sender of this request frame (as received, with its User-Id)
    // make it now? nullopt: yes, forward it. Decodes the request to know.
    std::optional<Denial> admit(const zmq::message_t& body, Clock::time_point now);

    // SIGHUP: reads the ACL file again; a file that does not parse is
    // refused (logged) and the ACL in force stays. True if the new one is.
    bool reload();

    std::uint64_t denied() const { return denied_; }

private:
    std::optional<std::string> decide(const std::string& domain, const std::string& key) const;
    std::optional<Denial> judge(const std::string& key, const zmq::message_t& body,
                                Clock::time_point now);

    std::optional<BrokerSecurityConfig> config_;
    std::optional<wire::ZapHandler> zap_;
    wire::RateLimiter rates_;
    std::uint64_t denied_ = 0;
};

}  // namespace cabildo::broker
