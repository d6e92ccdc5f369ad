// add_bench_command (bench_command.h): options, their checks, and the run.
#include "client/bench/bench_command.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "client/bench/bench_report.h"
#include "client/bench/closed_loop.h"
#include "client/bench/open_loop.h"
#include "client/bench/watch_fanout.h"
#include "client/cli_commands.h"
#include "client/client.h"

namespace cabildo::client {
namespace {

using bench::BenchMode;
using bench::BenchOptions;
using bench::SocketKind;

constexpr std::uint32_t connections_default_max = 64;

// What CLI11 fills in; turned into BenchOptions by make_options().
struct BenchArgs {
    std::string mode = "put";
    std::uint32_t clients = 16;
    std::uint32_t connections = 0;
    std::string socket = "dealer";
    std::uint32_t threads = 2;
    double read_ratio = 0.5;
    std::string consistency = "linearizable";
    std::uint32_t key_space = 10000;
    std::uint64_t lease_ttl_ms = 3600 * 1000;
    bool attach_leases = false;
    std::uint32_t value_size = 256;
    std::string duration = "15s";
    std::uint64_t count = 0;
    bool prefill = false;
    bool sessions = false;
    std::string request_timeout = "5s";
    std::uint64_t seed = 0;
    bool open_loop = false;
    double rate = 1000;
    std::vector<std::string> push_endpoints;
    std::string sub_endpoint;
    std::string grace = "3s";
    std::uint32_t watchers = 1000;
    std::string watch_kind = "exact";
    bool quiet = false;
};

void add_workload_options(CLI::App& cmd, BenchArgs& a) {
    cmd.add_option("--mode", a.mode,
                   "put | get | mixed | txn (2 compares + 2 puts) | keepalive (of key-space "
                   "leases, granted first) | watch (fan-out: --watchers watch while puts go at "
                   "--rate)")
        ->check(CLI::IsMember({"put", "get", "mixed", "txn", "keepalive", "watch"}))
        ->capture_default_str();
    cmd.add_option("--read-ratio", a.read_ratio, "mixed: the share of gets (0..1)")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    cmd.add_option("--consistency", a.consistency, "gets: linearizable | serializable")
        ->check(CLI::IsMember({"linearizable", "serializable"}))->capture_default_str();
    cmd.add_option("--lease-ttl-ms", a.lease_ttl_ms,
                   "keepalive: the TTL of the leases granted first (1 to key-space)")
        ->check(CLI::Range(cabildo::wire::lease_ttl_ms_min, cabildo::wire::lease_ttl_ms_max))
        ->capture_default_str();
    cmd.add_flag("--attach-leases", a.attach_leases,
                 "put: attach key N to lease N+1 (as --mode keepalive grants them)");
    cmd.add_option("--key-space", a.key_space, "keys key-000000 .. (uniformly random)")
        ->check(CLI::Range(std::uint32_t{1}, bench::key_space_max))->capture_default_str();
    cmd.add_option("--value-size", a.value_size, "bytes per value")
        ->check(CLI::Range(std::uint32_t{0}, static_cast<std::uint32_t>(wire::value_bytes_max)))
        ->capture_default_str();
    cmd.add_option("--duration", a.duration, "run length: 15s, 500ms, 2m")->capture_default_str();
    cmd.add_option("--count", a.count, "stop after this many requests instead of --duration");
    cmd.add_flag("--prefill", a.prefill, "put every key once before measuring (for get runs)");
    cmd.add_flag("--sessions", a.sessions, "writes carry a session and seq (exactly-once)");
    cmd.add_option("--seed", a.seed, "random seed (0: from the clock)");
    cmd.add_flag("--quiet", a.quiet, "no progress line on stderr");
}

void add_load_options(CLI::App& cmd, BenchArgs& a) {
    cmd.add_option("--clients", a.clients, "closed loop: concurrent sequential clients")
        ->check(CLI::Range(std::uint32_t{1}, bench::clients_max))->capture_default_str();
    cmd.add_option("--connections", a.connections,
                   "sockets, pinned round-robin to the endpoints (default min(clients, 64); "
                   "req: = clients)")
        ->check(CLI::Range(std::uint32_t{1}, bench::clients_max));
    cmd.add_option("--socket", a.socket, "dealer (clients share a socket) | req (one each)")
        ->check(CLI::IsMember({"dealer", "req"}))->capture_default_str();
    cmd.add_option("--threads", a.threads, "poll-loop threads")
        ->check(CLI::Range(std::uint32_t{1}, bench::threads_max))->capture_default_str();
    cmd.add_option("--request-timeout", a.request_timeout,
                   "no reply by then: counted as client_timeout")->capture_default_str();
    cmd.add_flag("--open-loop", a.open_loop,
                 "PUSH writes at --rate, completion seen on the commit stream");
    cmd.add_option("--rate", a.rate, "open loop, watch: writes per second")
        ->check(CLI::Range(0.001, 1e7))->capture_default_str();
    cmd.add_option("--push-endpoints", a.push_endpoints,
                   "open loop: PULL endpoints (default: each endpoint's port + 2)")
        ->delimiter(',');
    cmd.add_option("--sub-endpoint", a.sub_endpoint,
                   "open loop: the PUB to watch (default: the first endpoint's port + 1)");
    cmd.add_option("--grace", a.grace,
                   "open loop, watch: wait this long after the last send (watch: for the "
                   "watchers to catch up)")
        ->capture_default_str();
}

void add_watch_options(CLI::App& cmd, BenchArgs& a) {
    cmd.add_option("--watchers", a.watchers,
                   "watch: watchers of watch/, round-robin over the endpoints' nodes")
        ->check(CLI::Range(std::uint32_t{1}, bench::watchers_max))->capture_default_str();
    cmd.add_option("--watch-kind", a.watch_kind,
                   "watch: exact (watch_from, the stream as a doorbell) | stream (SUB events only)")
        ->check(CLI::IsMember({"exact", "stream"}))->capture_default_str();
}

// Watch mode: each endpoint's pub (client port + 1), one thread per share.
std::string resolve_watch(BenchOptions& o, const BenchArgs& a) {
    o.watchers = a.watchers;
    o.watch_kind = a.watch_kind == "stream" ? bench::WatchKind::stream : bench::WatchKind::exact;
    o.threads = std::min(a.threads, a.watchers);
    for (const std::string& endpoint : o.endpoints) {
        const std::optional<std::string> pub = bench::shift_port(endpoint, 1);
        if (!pub) return "cannot derive a pub endpoint from " + endpoint;
        o.pub_endpoints.push_back(*pub);
    }
    return "";
}

// Fills the endpoint-derived and defaulted fields; an error message or "".
std::string resolve_endpoints(BenchOptions& o, const BenchArgs& a) {
    if (!a.push_endpoints.empty()) {
        o.push_endpoints = a.push_endpoints;
    } else {
        for (const std::string& endpoint : o.endpoints) {
            const std::optional<std::string> pull = bench::shift_port(endpoint, 2);
            if (!pull) return "cannot derive a pull endpoint from " + endpoint;
            o.push_endpoints.push_back(*pull);
        }
    }
    if (!a.sub_endpoint.empty()) {
        o.sub_endpoint = a.sub_endpoint;
        return "";
    }
    const std::optional<std::string> pub = bench::shift_port(o.endpoints.front(), 1);
    if (!pub) return "cannot derive a pub endpoint from " + o.endpoints.front();
    o.sub_endpoint = *pub;
    return "";
}

// BenchOptions from the parsed arguments; an error message on bad values.
std::string make_options(const BenchArgs& a, const CliCommon& common, BenchOptions& o) {
    o.endpoints = common.endpoints.empty() ? default_endpoints() : common.endpoints;
    o.json = common.json;
    o.curve = common.curve;
    o.mode = a.mode == "get"         ? BenchMode::get
             : a.mode == "mixed"     ? BenchMode::mixed
             : a.mode == "txn"       ? BenchMode::txn
             : a.mode == "keepalive" ? BenchMode::keepalive
             : a.mode == "watch"     ? BenchMode::watch
                                     : BenchMode::put;
    o.socket = a.socket == "req" ? SocketKind::req : SocketKind::dealer;
    o.consistency = a.consistency == "serializable" ? wire::Consistency::serializable
                                                    : wire::Consistency::linearizable;
    o.clients = a.clients;
    o.lease_ttl_ms = a.lease_ttl_ms;
    o.attach_leases = a.attach_leases;
    o.connections = o.socket == SocketKind::req
                        ? a.clients
                        : (a.connections > 0 ? std::min(a.connections, a.clients)
                                             : std::min(a.clients, connections_default_max));
    o.threads = std::min(a.threads, o.connections);
    o.read_ratio = a.read_ratio;
    o.key_space = a.key_space;
    o.value_size = a.value_size;
    o.count = a.count;
    o.prefill = a.prefill;
    o.sessions = a.sessions;
    o.seed = a.seed != 0 ? a.seed
                         : static_cast<std::uint64_t>(
                               std::chrono::steady_clock::now().time_since_epoch().count());
    o.open_loop = a.open_loop;
    o.rate = a.rate;
    o.progress = !a.quiet;
    const auto duration = bench::parse_duration(a.duration);
    const auto timeout = bench::parse_duration(a.request_timeout);
    const auto grace = bench::parse_duration(a.grace);
    if (!duration || duration->count() <= 0) return "--duration: expected e.g. 15s, got " + a.duration;
    if (!timeout || timeout->count() <= 0) return "--request-timeout: expected e.g. 5s";
    if (!grace) return "--grace: expected e.g. 3s";
    o.duration = *duration;
    o.request_timeout = *timeout;
    o.grace = *grace;
    if (o.mode == BenchMode::watch) return resolve_watch(o, a);
    return o.open_loop ? resolve_endpoints(o, a) : "";
}

int run_closed(zmq::context_t& context, const BenchOptions& options) {
    if (options.prefill || options.mode == BenchMode::keepalive) {
        const BenchMode fill =
            options.mode == BenchMode::keepalive ? BenchMode::lease_grant : BenchMode::put;
        bench::ClosedLoopPlan prefill{fill, true, options.key_space, {}, false};
        const auto start = std::chrono::steady_clock::now();
        const bench::ClosedLoopResult done = bench::run_closed_loop(context, options, prefill);
        std::uint64_t errors = 0;
        for (const std::uint64_t n : done.errors) errors += n;
        if (options.progress)
            fmt::print(stderr, "prefill: {} keys put in {:.2f} s ({} errors)\n", done.ok,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                       errors);
    }
    const bench::ClosedLoopPlan plan{options.mode, false, options.count, options.duration,
                                     options.progress};
    const bench::ClosedLoopResult result = bench::run_closed_loop(context, options, plan);
    bench::print_closed_loop_report(options, result, bench::process_usage());
    return exit_ok;
}

int run_open(zmq::context_t& context, const BenchOptions& options) {
    Result<bench::OpenLoopResult> result = bench::run_open_loop(context, options);
    if (!result.ok()) {
        fmt::print(stderr, "cabildo bench: {}\n", result.error().detail);
        return exit_unavailable;
    }
    bench::print_open_loop_report(options, *result, bench::process_usage());
    return exit_ok;
}

int run_watch(zmq::context_t& context, const BenchOptions& options) {
    Result<bench::WatchFanoutResult> result = bench::run_watch_fanout(context, options);
    if (!result.ok()) {
        fmt::print(stderr, "cabildo bench: {}\n", result.error().detail);
        return result.error().status == Status::bad_request ? exit_usage : exit_unavailable;
    }
    bench::print_watch_report(options, *result, bench::process_usage());
    return exit_ok;
}

int run_bench(const BenchArgs& args, const CliCommon& common) {
    BenchOptions options;
    if (const std::string error = make_options(args, common, options); !error.empty()) {
        fmt::print(stderr, "cabildo bench: {}\n", error);
        return exit_usage;
    }
    zmq::context_t context(1);
    try {
        if (options.mode == BenchMode::watch) return run_watch(context, options);
        return options.open_loop ? run_open(context, options) : run_closed(context, options);
    } catch (const zmq::error_t& error) {
        fmt::print(stderr, "cabildo bench: {}\n", error.what());
        return exit_unavailable;
    }
}

}  // namespace

CliRunner add_bench_command(CLI::App& app) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand(
        "bench", "Measure throughput and latency: closed loop (default), --open-loop or --mode watch");
    cmd->fallthrough();  // global options (--endpoints, --json) may follow `bench`
    add_workload_options(*cmd, *args);
    add_load_options(*cmd, *args);
    add_watch_options(*cmd, *args);
    return [args](const CliCommon& common) { return run_bench(*args, common); };
}

}  // namespace cabildo::client
