// The once-a-second progress line on stderr, and the wait loop that drives
// it while the benchmark threads run. The line reads the threads'
// LiveCounters (relaxed atomics) only, so it never slows the hot loops down.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>

#include "client/bench/bench_result.h"

namespace cabildo::client::bench {

struct ProgressTotals {
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::uint64_t sent = 0;
};

ProgressTotals sum_counters(const std::deque<LiveCounters>& counters);

// Waits until `running` drops to 0, printing a line to stderr every second
// when `print` is true: closed loop "ops/s in the last second, total,
// errors"; open loop (open_loop = true) "sent/s, seen/s, totals, not sent".
void wait_with_progress(const std::deque<LiveCounters>& counters, const std::atomic<int>& running,
                        std::chrono::steady_clock::time_point start, bool print, bool open_loop);

}  // namespace cabildo::client::bench
