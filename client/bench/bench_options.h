// BenchOptions: everything one `cabildo bench` run is told, after the command
// line has been parsed and checked (bench_command.cc). Plain data: the
// drivers (closed_loop.h, open_loop.h) read it and never change it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client_curve.h"
#include "wire/client_messages.h"

namespace cabildo::client::bench {

// txn: 2 compares + 2 puts (key N and N+1); keepalive: lease_keepalive of
// lease N+1 (granted first: lease_grant is the prefill of keepalive); watch:
// the watch fan-out (watch_fanout.h).
enum class BenchMode : std::uint8_t { put, get, mixed, txn, keepalive, lease_grant, watch };
enum class SocketKind : std::uint8_t { dealer, req };
// watch: exact = PROTOCOL.md §10's recipe (events from watch_from, the stream
// a doorbell); stream = the SUB stream's events only.
enum class WatchKind : std::uint8_t { exact, stream };

// Keys are "key-%06d", so the key space is at most a million keys.
inline constexpr std::uint32_t key_space_max = 1000000;
inline constexpr std::uint32_t clients_max = 100000;
inline constexpr std::uint32_t threads_max = 64;
inline constexpr std::uint32_t watchers_max = 60000;

struct BenchOptions {
    std::vector<std::string> endpoints;  // client endpoints; connections pinned round-robin
    BenchMode mode = BenchMode::put;
    std::uint32_t clients = 16;      // closed loop: concurrent sequential clients
    std::uint32_t connections = 0;   // sockets; resolved: min(clients, 64), = clients for req
    SocketKind socket = SocketKind::dealer;
    std::uint32_t threads = 2;       // poll loops sharing the connections
    double read_ratio = 0.5;         // mixed: the share of gets
    wire::Consistency consistency = wire::Consistency::linearizable;
    std::uint32_t key_space = 10000;
    std::uint64_t lease_ttl_ms = 3600 * 1000;  // keepalive: the TTL its leases are granted with
    bool attach_leases = false;  // put: key N attached to lease N+1 (granted by keepalive's fill)
    std::uint32_t value_size = 256;
    std::chrono::nanoseconds duration = std::chrono::seconds(15);
    std::uint64_t count = 0;         // > 0: stop after this many requests instead
    bool prefill = false;            // put every key once before measuring
    bool sessions = false;           // writes carry (session, seq)
    std::chrono::nanoseconds request_timeout = std::chrono::seconds(5);
    std::uint64_t seed = 0;          // 0: from the clock

    // Open loop: PUSH writes at a fixed rate, completion seen on the PUB stream.
    bool open_loop = false;
    double rate = 1000;                       // writes per second
    std::vector<std::string> push_endpoints;  // default: each endpoint's pull (client port + 2)
    std::string sub_endpoint;                 // default: the first endpoint's pub (client port + 1)
    std::chrono::nanoseconds grace = std::chrono::seconds(3);

    // Watch fan-out (mode watch); rate, grace and threads above apply too.
    std::uint32_t watchers = 1000;
    WatchKind watch_kind = WatchKind::exact;
    std::vector<std::string> pub_endpoints;  // each endpoint's pub (client port + 1)

    bool json = false;
    bool progress = true;  // the once-a-second line on stderr
    // A secured cluster's keys, on every socket (DEALER, REQ, PUSH, SUB).
    std::optional<ClientCurve> curve{};
};

std::string_view mode_name(BenchMode mode);
std::string_view socket_name(SocketKind kind);
std::string_view watch_kind_name(WatchKind kind);

// "15s", "500ms", "2m", "1.5s", "100us"; a bare number is seconds.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);
// "tcp://host:port" with the port moved by `delta`; nullopt if there is no port.
std::optional<std::string> shift_port(std::string_view endpoint, int delta);

}  // namespace cabildo::client::bench
