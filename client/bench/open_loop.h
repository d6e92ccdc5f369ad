// The open-loop driver: writes sent at a fixed --rate whatever the cluster
// does, their completion seen on the commit stream.
//
// Writes go out on PUSH sockets, one per node's pull endpoint (round-robin),
// on a schedule by time (write i is due at start + i / rate), not by
// completion, so a slow cluster builds a backlog instead of slowing the
// benchmark down. Every write has its own key, "<prefix><10 digits>" with a
// prefix unique to the run, and a SUB socket on one node's PUB subscribed to
// "kv/<prefix>" sees each applied write: latency = event arrival - send time.
// Before the clock starts a probe write is pushed until its event arrives,
// which also gets the subscription past ZeroMQ's slow-joiner window. Writes
// not seen by the end of the grace period after the last send are lost.
// PUSH has no reply, so errors are invisible except as loss.
#pragma once

#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/bench_result.h"
#include "node/raft/result.h"

namespace cabildo::client::bench {

// Error: unavailable when the probe write is never seen (no leader, wrong
// endpoints, nothing published).
Result<OpenLoopResult> run_open_loop(zmq::context_t& context, const BenchOptions& options);

}  // namespace cabildo::client::bench
