// ConnectionMonitor: open connections per bound socket, for metrics, from
// ZeroMQ's socket monitor events (accepted and disconnected), which the
// loop drains with each heartbeat (every 100 ms) without waiting.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

namespace cabildo::node {

class ConnectionMonitor {
public:
    static constexpr int events_per_update_max = 1024;  // per socket and update (one per heartbeat)

    // Counts the connections `socket` accepts, under `name`. Call before
    // the socket binds, or the first connections are missed.
    void watch(zmq::context_t& context, zmq::socket_t& socket, const std::string& name);
    // Takes the events that arrived (bounded per socket).
    void update();  // the loop: once per heartbeat
    const std::map<std::string, std::uint64_t>& counts() const { return counts_; }
    std::uint64_t count(const std::string& name) const;

private:
    struct Watched {
        std::string name;
        zmq::socket_t pair;
    };
    std::vector<Watched> watched_;
    std::map<std::string, std::uint64_t> counts_;
};

}  // namespace cabildo::node
