// cabildo-broker: an optional, stateless front door to a Cabildo cluster.
//
//   cabildo-broker --listen 127.0.0.1:7200 --member 1=127.0.0.1:7100
//       --member 2=127.0.0.1:7110 --member 3=127.0.0.1:7120      (one line)
//
// Clients talk to it as to a node: requests at port+1, the kv/ and hb/
// streams at port+2, fire-and-forget writes at port+3 (broker.h).
// SIGINT/SIGTERM shut down cleanly (exit 0).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>

#include "broker/broker.h"

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) {
    stop_requested.store(true);
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
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cabildo-broker: a stateless front door to a Cabildo cluster"};
    cabildo::broker::BrokerConfig config;
    std::string listen;
    std::vector<std::string> members;
    add_options(app, config, listen, members);
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
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [broker] %v");
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        cabildo::broker::Broker broker(config);
        return broker.run(stop_requested);
    } catch (const zmq::error_t& e) {
        spdlog::critical("broker: cannot start: {}", e.what());
        return 1;
    }
}
