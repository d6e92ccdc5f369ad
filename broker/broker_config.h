// BrokerConfig: what one cabildo-broker needs to know, from its flags.
//
// The broker binds like a node so every client works against it unchanged:
// for `--listen host:port` the client ROUTER is port+1, the XPUB port+2 and
// the PULL port+3 (port itself is left free, where a node has its peer
// socket). Members are given as for a node, `id=host:port`
// (node/node_config.h), and reached at their client (+1), PUB (+2) and PULL
// (+3) ports. Parsing is CLI11's (broker/main.cc); this file holds the result.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "node/node_config.h"
#include "node/raft/result.h"
#include "wire/security/acl.h"
#include "wire/security/curve.h"

namespace cabildo::broker {

// Security on (--curve-key, --server-key, --acl; broker_security.h).
struct BrokerSecurityConfig {
    wire::CurveKeys own_keys;     // --curve-key: the nodes know the broker by it
    wire::CurveKeys server_keys;  // --server-key: the cluster's; the nodes and the broker prove it
    std::string acl_file;         // --acl: the broker's clients; read again on SIGHUP
    wire::Acl acl;
};

struct BrokerConfig {
    std::string listen_host = "127.0.0.1";
    int listen_port = 7200;
    // The host in the `leader` hint of relayed replies; empty = listen_host.
    std::string advertise_host;
    std::vector<node::Member> members;
    int request_timeout_ms = 3000;  // a forwarded request not answered by then: timeout
    int alive_window_ms = 1000;     // a node silent for longer is not chosen
    std::string log_level = "info";
    std::string log_format = "text";  // or "json" (wire/metrics/log_format.h)
    std::string metrics_listen;       // HOST:PORT for GET /metrics, /health, /livez (empty: off)
    std::optional<BrokerSecurityConfig> security;  // none: plain TCP everywhere

    std::string client_bind_endpoint() const { return bind_endpoint(1); }
    std::string pub_bind_endpoint() const { return bind_endpoint(2); }
    std::string pull_bind_endpoint() const { return bind_endpoint(3); }
    // This broker's client endpoint as clients should dial it.
    std::string advertised_client_endpoint() const;

private:
    std::string bind_endpoint(int offset) const {
        return "tcp://" + listen_host + ":" + std::to_string(listen_port + offset);
    }
};

// Parses "host:port" into listen_host and listen_port.
Result<bool> parse_listen(const std::string& text, BrokerConfig& config);
// Checks members (at least one, distinct ids) and timing.
Result<bool> validate(const BrokerConfig& config);

}  // namespace cabildo::broker
