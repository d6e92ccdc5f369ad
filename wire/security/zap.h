// ZapHandler: answers libzmq's authentication requests (ZAP, ZeroMQ RFC 27)
// for every CURVE server socket of one context.
//
// libzmq asks, for each new connection, over the inproc endpoint
// "inproc://zeromq.zap.01": domain (the server socket's zap_domain) and
// the client's public key, which the handshake has proven. The handler says
// yes with a User-Id, which libzmq attaches to every message of that
// connection (message_t::gets("User-Id")), or no, and the connection is
// closed before one message passes. It must be bound before any CURVE
// server socket: with no handler, libzmq lets every key in.
//
// It runs in its owner's loop (poll socket(), then handle()): one thread,
// and a connection's handshake waits at most one loop turn.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <zmq.hpp>

namespace cabildo::wire {

// The key (Z85) the handshake proved for the connection a message came
// on: the User-Id the handler gave it ("" if none: a socket without CURVE).
std::string proven_key(const zmq::message_t& message);

class ZapHandler {
public:
    // The User-Id for a client key (Z85) in a domain, or nullopt: refused.
    using Decide = std::function<std::optional<std::string>(const std::string& domain,
                                                            const std::string& key)>;
    ZapHandler(zmq::context_t& context, Decide decide);

    zmq::socket_t& socket() { return socket_; }
    // Answers the requests waiting (non-blocking), at most `max` of them.
    void handle(std::size_t max = 256);

    std::uint64_t accepted() const { return accepted_; }
    std::uint64_t refused() const { return refused_; }

private:
    void answer(std::vector<zmq::message_t>& request);

    zmq::socket_t socket_;
    Decide decide_;
    std::uint64_t accepted_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace cabildo::wire
