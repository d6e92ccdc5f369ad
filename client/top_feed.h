// TopFeed: the sockets of `cabildo top`. One SUB socket per node, connected
// to its PUB (client port + 1, pub_endpoint_for() of watcher.h) and
// subscribed to `hb/`, so each heartbeat is known to come from the endpoint
// it was read on. ZeroMQ reconnects by itself, so a node that dies and comes
// back is heard again without anything done here. With CURVE keys every
// socket is a CURVE client (apply_curve() BEFORE connect); a secured node
// sends heartbeats only to identities with the `watch` right.
//
// Not the interpretation of heartbeats (top_model.h). Single-threaded; owns
// its ZeroMQ context; every socket has linger 0.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "client/client_curve.h"
#include "wire/client_messages.h"

namespace cabildo::client {

struct TopHeartbeat {
    std::string endpoint;  // the client endpoint of the node it came from
    wire::NodeStatus status;
};

class TopFeed {
public:
    explicit TopFeed(std::optional<ClientCurve> curve);
    TopFeed(const TopFeed&) = delete;
    TopFeed& operator=(const TopFeed&) = delete;

    // Subscribes to the heartbeats of the node at this client endpoint; a
    // second call for it does nothing. False when no PUB endpoint can be
    // derived from it (not tcp://host:port).
    bool watch(const std::string& client_endpoint);

    // Waits up to `wait` for a heartbeat on any socket or input on `input_fd`
    // (-1: none), then returns every heartbeat queued (each decoded; what
    // does not decode is dropped). A signal ends the wait early.
    std::vector<TopHeartbeat> poll(std::chrono::milliseconds wait, int input_fd);

private:
    void drain(const std::string& endpoint, zmq::socket_t& socket, std::vector<TopHeartbeat>& out);

    std::optional<ClientCurve> curve_;
    zmq::context_t context_;
    std::map<std::string, zmq::socket_t> subscribers_;  // by client endpoint
};

}  // namespace cabildo::client
