// cabildo-broker: an optional, stateless front door to a Cabildo cluster.
//
//   cabildo-broker --listen 127.0.0.1:7200 --member 1=127.0.0.1:7100
//       --member 2=127.0.0.1:7110 --member 3=127.0.0.1:7120      (one line)
//
// Clients talk to it as to a node: requests at port+1, the kv/ and hb/
// streams at port+2, fire-and-forget writes at port+3 (broker.h).
// In front of a secured cluster add --curve-key FILE --server-key FILE
// --acl FILE (broker_security.h); SIGHUP reads the ACL file again.
// SIGINT/SIGTERM shut down cleanly (exit 0); bad options exit 2.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>

#include "wire/metrics/log_format.h"
#include "broker/broker.h"

namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> reload_acl{false};  // SIGHUP

void on_signal(int) {
    stop_requested.store(true);
}
void on_reload(int) { reload_acl.store(true); }

struct SecurityFlags {
    std::string curve_key;
    std::string server_key;
    std::string acl;
};

void add_security_options(CLI::App& app, SecurityFlags& flags) {
    app.add_option("--curve-key", flags.curve_key,
                   "security on: the broker's own Curve key pair (`cabildo keygen`), an identity "
                   "in the nodes' ACL with the rights its clients need (PROTOCOL.md section 12)");
    app.add_option("--server-key", flags.server_key,
                   "with --curve-key: the cluster's server key pair (the nodes' --server-key); "
                   "the broker expects it of the nodes and proves it to its own clients");
    app.add_option("--acl", flags.acl,
                   "with --curve-key: the ACL file of the broker's clients (their keys and "
                   "rights, checked here); read again on SIGHUP");
}

// The three flags as the broker's security; the error says which file is
// wrong and how.
cabildo::Result<std::optional<cabildo::broker::BrokerSecurityConfig>> load_security(
    const SecurityFlags& flags) {
    using cabildo::Error;
    using cabildo::Status;
    const int given = !flags.curve_key.empty() + !flags.server_key.empty() + !flags.acl.empty();
    if (given == 0) return std::optional<cabildo::broker::BrokerSecurityConfig>{};
    if (given != 3) {
        return Error{Status::bad_request,
                     "--curve-key, --server-key and --acl go together: give all three, or none "
                     "for a cluster without security"};
    }
    if (!cabildo::wire::curve_available()) {
        return Error{Status::bad_request, "this libzmq was built without CURVE (libsodium)"};
    }
    cabildo::broker::BrokerSecurityConfig security;
    auto own = cabildo::wire::read_key_file(flags.curve_key, true);
    if (!own) return own.error();
    // The broker serves its clients with it: the secret too, not the .pub.
    auto server = cabildo::wire::read_key_file(flags.server_key, true);
    if (!server) return server.error();
    auto acl = cabildo::wire::read_acl_file(flags.acl);
    if (!acl) return acl.error();
    security.own_keys = *own;
    security.server_keys = *server;
    security.acl_file = flags.acl;
    security.acl = std::move(*acl);
    return std::optional<cabildo::broker::BrokerSecurityConfig>{std::move(security)};
}

void add_options(CLI::App& app, cabildo::broker::BrokerConfig& config, std::string& listen,
                 std::vector<std::string>& members) {
    app.add_option("--listen", listen,
                   "host:port; clients connect to port+1 (requests), port+2 (streams), "
                   "port+3 (pushed writes)")
        ->required();
    app.add_option("--member", members,
                   "a cluster member as id=host:port, as given to the nodes (repeat for each)")
        ->required();
    app.add_option("--advertise", config.advertise_host,
                   "host clients should dial, put in relayed `leader` hints (default: the "
                   "listen host)");
    app.add_option("--request-timeout-ms", config.request_timeout_ms,
                   "answer `timeout` to a request no node answered by then")
        ->capture_default_str();
    app.add_option("--alive-window-ms", config.alive_window_ms,
                   "a node whose heartbeats stopped for longer is not chosen")
        ->capture_default_str();
    app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error")
        ->capture_default_str();
    app.add_option("--log-format", config.log_format, "text, or json: one JSON object per line")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--metrics-listen", config.metrics_listen,
                   "serve HTTP on HOST:PORT: GET /metrics (Prometheus text), /health (200 while "
                   "a live leader is known, else 503), /livez (off unless given)");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cabildo-broker: a stateless front door to a Cabildo cluster"};
    cabildo::broker::BrokerConfig config;
    std::string listen;
    std::vector<std::string> members;
    SecurityFlags security_flags;
    add_options(app, config, listen, members);
    add_security_options(app, security_flags);
    CLI11_PARSE(app, argc, argv);
    if (auto parsed = cabildo::broker::parse_listen(listen, config); !parsed) {
        std::fprintf(stderr, "cabildo-broker: %s\n", parsed.error().detail.c_str());
        return 2;
    }
    for (const std::string& text : members) {
        auto member = cabildo::node::parse_member(text);
        if (!member) {
            std::fprintf(stderr, "cabildo-broker: %s\n", member.error().detail.c_str());
            return 2;
        }
        config.members.push_back(*member);
    }
    if (auto valid = cabildo::broker::validate(config); !valid) {
        std::fprintf(stderr, "cabildo-broker: %s\n", valid.error().detail.c_str());
        return 2;
    }
    auto security = load_security(security_flags);
    if (!security) {
        std::fprintf(stderr, "cabildo-broker: %s\n", security.error().detail.c_str());
        return 2;
    }
    config.security = std::move(*security);
    cabildo::wire::set_up_logging("broker", config.log_level, config.log_format);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_reload);
    try {
        cabildo::broker::Broker broker(config);
        return broker.run(stop_requested, &reload_acl);
    } catch (const zmq::error_t& e) {
        spdlog::critical("broker: cannot start: {}", e.what());
        return 1;
    } catch (const std::runtime_error& e) {
        spdlog::critical("broker: cannot start: {}", e.what());  // --metrics-listen's port in use
        return 1;
    }
}
