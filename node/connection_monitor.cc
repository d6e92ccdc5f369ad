#include "node/connection_monitor.h"

#include <zmq.h>

#include <cstring>

namespace cabildo::node {

void ConnectionMonitor::watch(zmq::context_t& context, zmq::socket_t& socket,
                              const std::string& name) {
    const std::string endpoint =
        "inproc://cabildo-monitor-" + name + "-" + std::to_string(watched_.size());
    const int rc = zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                                      ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    if (rc != 0) throw zmq::error_t();
    zmq::socket_t pair(context, zmq::socket_type::pair);
    pair.set(zmq::sockopt::linger, 0);
    pair.connect(endpoint);
    watched_.push_back({name, std::move(pair)});
    counts_[name] = 0;
}

void ConnectionMonitor::update() {
    for (Watched& w : watched_) {
        std::uint64_t& count = counts_[w.name];
        for (int n = 0; n < events_per_update_max; ++n) {
            // Two frames: [event u16, value u32] and the endpoint.
            zmq::message_t event;
            if (!w.pair.recv(event, zmq::recv_flags::dontwait)) break;
            zmq::message_t address;
            while (event.more() && w.pair.recv(address, zmq::recv_flags::dontwait)) {
                if (!address.more()) break;
            }
            if (event.size() < sizeof(std::uint16_t)) continue;
            std::uint16_t id = 0;
            std::memcpy(&id, event.data(), sizeof id);
            if (id == ZMQ_EVENT_ACCEPTED) {
                ++count;
            } else if (id == ZMQ_EVENT_DISCONNECTED && count > 0) {
                --count;
            }
        }
    }
}

std::uint64_t ConnectionMonitor::count(const std::string& name) const {
    auto it = counts_.find(name);
    return it == counts_.end() ? 0 : it->second;
}

}  // namespace cabildo::node
