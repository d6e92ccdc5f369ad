// Progress line (progress.h).
#include "client/bench/progress.h"

#include <fmt/core.h>

#include <cstdio>
#include <thread>

namespace cabildo::client::bench {
namespace {

using Clock = std::chrono::steady_clock;

void print_line(double elapsed_s, const ProgressTotals& now, const ProgressTotals& before,
                bool open_loop) {
    if (open_loop) {
        fmt::print(stderr, "[{:5.0f}s] sent/s {:>8}  seen/s {:>8}  sent {:>10}  seen {:>10}  not sent {}\n",
                   elapsed_s, now.sent - before.sent, now.ok - before.ok, now.sent, now.ok,
                   now.errors);
    } else {
        fmt::print(stderr, "[{:5.0f}s] ops/s {:>8}  total {:>10}  errors {}\n", elapsed_s,
                   now.ok - before.ok, now.ok, now.errors);
    }
    std::fflush(stderr);
}

}  // namespace

ProgressTotals sum_counters(const std::deque<LiveCounters>& counters) {
    ProgressTotals totals;
    for (const LiveCounters& c : counters) {
        totals.ok += c.ok.load(std::memory_order_relaxed);
        totals.errors += c.errors.load(std::memory_order_relaxed);
        totals.sent += c.sent.load(std::memory_order_relaxed);
    }
    return totals;
}

void wait_with_progress(const std::deque<LiveCounters>& counters, const std::atomic<int>& running,
                        Clock::time_point start, bool print, bool open_loop) {
    constexpr auto step = std::chrono::milliseconds(20);
    ProgressTotals before = sum_counters(counters);
    Clock::time_point next = start + std::chrono::seconds(1);
    while (running.load() > 0) {
        std::this_thread::sleep_for(step);
        const Clock::time_point now = Clock::now();
        if (now < next) continue;
        const ProgressTotals totals = sum_counters(counters);
        if (print)
            print_line(std::chrono::duration<double>(now - start).count(), totals, before,
                       open_loop);
        before = totals;
        next += std::chrono::seconds(1);
        if (next < now) next = now + std::chrono::seconds(1);
    }
}

}  // namespace cabildo::client::bench
