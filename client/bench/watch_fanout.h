// The watch fan-out benchmark (`cabildo bench --mode watch`): how many
// watchers one cluster can feed, and how late, while a writer puts at a
// fixed rate.
//
// --watchers W watchers, all of the prefix "watch/", are spread round-robin
// over the endpoints' nodes and over --threads poll loops
// (watch_fanout_worker.h: --watch-kind exact or stream). Once every watcher
// is set up (the first is "from the applied revision + 1"), one WatchPutter
// (watch_putter.h) puts at --rate for --duration; then the run waits up to
// --grace for every watcher to reach the last acknowledged put's revision.
// Each acknowledged put should reach every watcher once: expected = puts_ok
// * W; a delivery counts only if its revision is an acknowledged put's.
// Delivery lag = receive time - the send time the value starts with.
//
// Before any socket exists it raises RLIMIT_NOFILE's soft limit to the hard
// one when the sockets need more (each watcher is a TCP connection and a
// ZeroMQ mailbox: about 2 descriptors), and the context's ZMQ_MAX_SOCKETS
// (default 1023) and ZMQ_IO_THREADS (= --threads).
#pragma once

#include <cstdint>
#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/watch_putter.h"
#include "node/raft/result.h"

namespace cabildo::client::bench {

struct WatchFanoutResult {
    WatchPutResult puts;
    std::uint64_t events_expected = 0;   // puts.ok * watchers
    std::uint64_t events_delivered = 0;  // of the acknowledged puts' revisions
    std::uint64_t events_unacked = 0;    // of other revisions (e.g. a put that timed out)
    std::uint64_t duplicates = 0;
    std::uint64_t watch_from_calls = 0;
    std::uint64_t compacted = 0;
    std::uint64_t timeouts = 0;       // watch_from unanswered within --request-timeout
    std::uint64_t error_replies = 0;  // watch_from answered ok=false, but compacted
    std::uint64_t bad_frames = 0;
    std::uint32_t caught_up = 0;      // watchers at the last put's revision by the end
    LatencyHistogram lag;
    double setup_s = 0;     // sockets opened to every watcher set up
    double catch_up_s = 0;  // the putter's end to every watcher caught up (or the grace)
    double wall_s = 0;      // the first put to the end of the catch-up wait
    std::uint64_t nofile_limit = 0;  // RLIMIT_NOFILE soft limit during the run
};

// The watch errors the report counts as `errors`.
std::uint64_t watch_error_total(const WatchFanoutResult& result);

// Errors: bad_request when the descriptor or socket limits cannot be raised
// far enough (the detail says which and what to do), unavailable when a node
// does not answer status or the watchers are not set up within the setup time.
Result<WatchFanoutResult> run_watch_fanout(zmq::context_t& context, const BenchOptions& options);

}  // namespace cabildo::client::bench
