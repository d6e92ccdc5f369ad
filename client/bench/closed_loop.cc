// run_closed_loop (closed_loop.h): split clients and connections over the
// threads, run them, print progress, merge what they measured.
#include "client/bench/closed_loop.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "client/bench/closed_loop_worker.h"
#include "client/bench/progress.h"

namespace cabildo::client::bench {
namespace {

// Connection j -> endpoint j mod E, thread j mod T; client i -> connection i mod M.
std::vector<std::vector<ConnectionSpec>> assign(const BenchOptions& options,
                                                std::uint32_t thread_count) {
    const std::uint32_t connections = options.connections;
    std::vector<ConnectionSpec> specs(connections);
    for (std::uint32_t j = 0; j < connections; ++j)
        specs[j].endpoint = options.endpoints[j % options.endpoints.size()];
    for (std::uint32_t i = 0; i < options.clients; ++i) specs[i % connections].clients.push_back(i);
    std::vector<std::vector<ConnectionSpec>> per_thread(thread_count);
    for (std::uint32_t j = 0; j < connections; ++j)
        per_thread[j % thread_count].push_back(std::move(specs[j]));
    return per_thread;
}

}  // namespace

ClosedLoopResult run_closed_loop(zmq::context_t& context, const BenchOptions& options,
                                 const ClosedLoopPlan& plan) {
    const std::uint32_t thread_count = std::max<std::uint32_t>(
        1, std::min(options.threads, options.connections));
    std::vector<std::vector<ConnectionSpec>> specs = assign(options, thread_count);
    ClosedLoopShared shared;
    std::deque<LiveCounters> live(thread_count);
    std::vector<std::unique_ptr<ClosedLoopWorker>> workers;
    for (std::uint32_t t = 0; t < thread_count; ++t)
        workers.push_back(std::make_unique<ClosedLoopWorker>(context, options, plan, shared,
                                                             live[t], std::move(specs[t])));
    std::atomic<int> running{static_cast<int>(thread_count)};
    const auto start = std::chrono::steady_clock::now();
    shared.start_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
    std::vector<std::thread> threads;
    for (auto& worker : workers) {
        threads.emplace_back([&running, w = worker.get()] {
            try {
                w->run();
            } catch (const zmq::error_t& error) {
                fmt::print(stderr, "bench: worker stopped: {}\n", error.what());
            }
            running.fetch_sub(1);
        });
    }
    wait_with_progress(live, running, start, plan.progress, false);
    for (std::thread& thread : threads) thread.join();
    ClosedLoopResult total;
    total.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& worker : workers) {
        const ClosedLoopResult& part = worker->result();
        total.ok += part.ok;
        for (std::size_t k = 0; k < error_kind_count; ++k) total.errors[k] += part.errors[k];
        total.latency.merge(part.latency);
    }
    return total;
}

}  // namespace cabildo::client::bench
