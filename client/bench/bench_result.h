// What a benchmark run measured, shared by the drivers (closed_loop.h,
// open_loop.h) and the report (bench_report.h): error kinds, the live
// counters the progress line reads, and the final figures.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "client/bench/latency_histogram.h"

namespace cabildo::client::bench {

// Why a request did not succeed. The first group are the reply `error` codes
// of PROTOCOL.md §5; the rest happen at the client.
enum class ErrorKind : std::uint8_t {
    no_leader,
    unavailable,
    timeout,         // the node gave up (outcome unknown)
    bad_request,
    too_large,
    storage_full,
    stale_session,
    internal,
    other_code,      // a code this benchmark does not know
    client_timeout,  // no reply within --request-timeout
    bad_reply,       // a frame that is not a v1 reply map, or an unknown id
    not_sent,        // open loop: the PUSH socket would block (HWM or no peer)
};
inline constexpr std::size_t error_kind_count = 12;

std::string_view error_kind_name(ErrorKind kind);
ErrorKind error_kind_for_code(std::string_view code);
// True for the codes that mean "try again later": no_leader, unavailable, timeout.
bool is_retry_later(ErrorKind kind);

using ErrorCounts = std::array<std::uint64_t, error_kind_count>;

// Updated by one driver thread, read by the progress line (relaxed).
struct alignas(64) LiveCounters {
    std::atomic<std::uint64_t> ok{0};      // closed: successes; open: events seen
    std::atomic<std::uint64_t> errors{0};  // closed: failures; open: not sent
    std::atomic<std::uint64_t> sent{0};    // open loop only
};

struct ClosedLoopResult {
    std::uint64_t ok = 0;
    ErrorCounts errors{};
    LatencyHistogram latency;  // successful requests only
    double wall_s = 0;
};

struct OpenLoopResult {
    std::uint64_t scheduled = 0;  // writes the schedule asked for
    std::uint64_t sent = 0;
    std::uint64_t not_sent = 0;   // PUSH would have blocked
    std::uint64_t completed = 0;  // seen on the commit stream
    std::uint64_t lost = 0;       // sent, never seen by the end of the grace period
    double send_s = 0;            // first to last send
    double wall_s = 0;            // first send to the end of the wait
    double send_lag_ms_max = 0;   // how far sending fell behind the schedule
    LatencyHistogram latency;     // event arrival - send time
};

}  // namespace cabildo::client::bench
