// BrokerConfig parsing and validation; see broker_config.h.
#include "broker/broker_config.h"

#include <set>

namespace cabildo::broker {

std::string BrokerConfig::advertised_client_endpoint() const {
    const std::string& host = advertise_host.empty() ? listen_host : advertise_host;
    return "tcp://" + host + ":" + std::to_string(listen_port + 1);
}

Result<bool> parse_listen(const std::string& text, BrokerConfig& config) {
    // A listen address is a member address without the id: reuse the
    // node's parser (and its port range, which leaves room for port+3).
    auto parsed = node::parse_member("1=" + text);
    if (!parsed) {
        return Error{Status::bad_request,
                     "--listen '" + text + "' is not host:port (port 1..65532)"};
    }
    config.listen_host = parsed->host;
    config.listen_port = parsed->port;
    return true;
}

Result<bool> validate(const BrokerConfig& config) {
    if (config.members.empty())
        return Error{Status::bad_request, "no --member given"};
    std::set<raft::NodeId> ids;
    for (const node::Member& m : config.members) {
        if (!ids.insert(m.id).second) {
            return Error{Status::bad_request, "member id " + std::to_string(m.id) + " twice"};
        }
    }
    if (config.request_timeout_ms < 10) {
        return Error{Status::bad_request, "request-timeout-ms must be >= 10"};
    }
    if (config.alive_window_ms < 100) {
        return Error{Status::bad_request,
                     "alive-window-ms must be >= 100 (heartbeats are 100 ms apart)"};
    }
    return true;
}

}  // namespace cabildo::broker
