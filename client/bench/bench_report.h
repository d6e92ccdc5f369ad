// The end-of-run report of `cabildo bench`: figures only, no judgement.
// Human form on stdout by default; with --json one JSON object on one line
// (the field names follow etcd's kvbench where they mean the same thing:
// ops_per_s, lat_ms.p50/p90/p99/p999/max, errors).
#pragma once

#include <cstdint>

#include "client/bench/bench_options.h"
#include "client/bench/bench_result.h"
#include "client/bench/watch_fanout.h"

namespace cabildo::client::bench {

// This process's resource use so far (getrusage).
struct ProcessUsage {
    std::uint64_t rss_peak_kb = 0;
    double cpu_user_s = 0;
    double cpu_sys_s = 0;
};
ProcessUsage process_usage();

void print_closed_loop_report(const BenchOptions& options, const ClosedLoopResult& result,
                              const ProcessUsage& usage);
void print_open_loop_report(const BenchOptions& options, const OpenLoopResult& result,
                            const ProcessUsage& usage);
// The top level has the other modes' fields (ops = ok = acknowledged puts,
// ops_per_s, lat_ms = put latency, errors = failed puts, process) and
// "watch" the fan-out's own (watch_fanout.h).
void print_watch_report(const BenchOptions& options, const WatchFanoutResult& result,
                        const ProcessUsage& usage);

}  // namespace cabildo::client::bench
