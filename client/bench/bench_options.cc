// Small helpers behind bench_options.h: names, durations, derived endpoints.
#include "client/bench/bench_options.h"

#include <charconv>
#include <cmath>

namespace cabildo::client::bench {

std::string_view mode_name(BenchMode mode) {
    switch (mode) {
    case BenchMode::put: return "put";
    case BenchMode::get: return "get";
    case BenchMode::mixed: return "mixed";
    case BenchMode::txn: return "txn";
    case BenchMode::keepalive: return "keepalive";
    case BenchMode::lease_grant: return "lease_grant";
    case BenchMode::watch: return "watch";
    }
    return "unknown";
}

std::string_view socket_name(SocketKind kind) {
    return kind == SocketKind::dealer ? "dealer" : "req";
}

std::string_view watch_kind_name(WatchKind kind) {
    return kind == WatchKind::exact ? "exact" : "stream";
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
        ++digits;
    if (digits == 0) return std::nullopt;
    // std::from_chars for double is in libstdc++ 11+.
    double number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
    if (error != std::errc() || end != text.data() + digits) return std::nullopt;
    const std::string_view unit = text.substr(digits);
    double scale = 0;
    if (unit.empty() || unit == "s") scale = 1e9;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "us") scale = 1e3;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return std::nullopt;
    const double ns = number * scale;
    if (!std::isfinite(ns) || ns > 1e18) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::optional<std::string> shift_port(std::string_view endpoint, int delta) {
    const std::size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view port_text = endpoint.substr(colon + 1);
    int port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size()) return std::nullopt;
    if (port + delta <= 0 || port + delta > 65535) return std::nullopt;
    return std::string(endpoint.substr(0, colon + 1)) + std::to_string(port + delta);
}

}  // namespace cabildo::client::bench
