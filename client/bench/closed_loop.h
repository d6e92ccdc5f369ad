// The closed-loop driver: --clients sequential clients (send, wait for the
// reply, send the next) over --connections sockets, served by --threads
// threads that each run one zmq::poll loop over their own sockets.
//
// Connection j is pinned to endpoint j mod E (like etcd's benchmark: a
// follower forwards to the leader), client i uses connection i mod M, and
// connection j belongs to thread j mod T. On a DEALER several clients share
// one socket and replies are matched by `id`; a REQ socket carries one
// client. Not a client library: no retries, no leader finding. A reply with
// an error is counted (and a "try later" one delays that client 20 ms); a
// request with no reply in --request-timeout is counted as client_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/bench_result.h"

namespace cabildo::client::bench {

// What to run; the prefill is a closed loop too.
struct ClosedLoopPlan {
    BenchMode mode = BenchMode::put;
    bool sequential_keys = false;  // key number = request number mod key space (prefill)
    std::uint64_t count = 0;       // > 0: this many requests in all; else until duration
    std::chrono::nanoseconds duration{0};
    bool progress = true;
};

ClosedLoopResult run_closed_loop(zmq::context_t& context, const BenchOptions& options,
                                 const ClosedLoopPlan& plan);

}  // namespace cabildo::client::bench
