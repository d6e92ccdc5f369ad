// WatchFanoutWorker: one thread's share of the watchers of a watch fan-out
// run (watch_fanout.h). Internal to client/bench.
//
// Each watcher has its own SUB socket on its node's PUB, subscribed to
// kv/watch/ and then hb/ (in that order: the PUB takes subscriptions in
// order, so a heartbeat received means both are live). The worker polls all
// of its SUB sockets, plus one DEALER per node for watch_from, in one
// zmq::poll loop. Two kinds (--watch-kind):
//
//   stream: the events the SUB socket brings are the deliveries; what it
//     drops is lost. Caught up = a heartbeat whose applied_index is at least
//     the target (the node publishes in order, so any event before it came).
//   exact: PROTOCOL.md §10's recipe. The stream is only a doorbell: a kv/
//     event above the covered revision, or a heartbeat whose applied_index is
//     above it, makes the watcher ask watch_from(covered + 1), ONE request
//     outstanding per watcher at most; doorbells meanwhile only raise
//     `announced`, and the reply is followed at once when `more` or when
//     announced > covered. Deliveries come from the replies alone. Caught up
//     = covered >= target. `compacted` is an error: the watcher skips to the
//     reply's revision and what it skipped is lost.
//
// A watcher is set up once it saw a heartbeat and (exact) its first
// watch_from was answered. Deliveries are counted per revision (so the run
// can count only the acknowledged puts' revisions) and per watcher a
// delivery at or below the last one delivered is a duplicate. Request ids
// are (generation << 32) | watcher index; a reply of an older generation (a
// request that timed out) is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/msgpack_skim.h"

namespace cabildo::client::bench {

// Set by the run (watch_fanout.cc), read by every worker.
struct WatchShared {
    std::uint64_t start_revision = 0;             // fixed before the workers start
    std::atomic<std::uint32_t> set_up{0};         // watchers set up
    std::atomic<std::uint64_t> target_revision{0};  // 0 = not known yet
    std::atomic<std::uint32_t> caught_up{0};      // watchers that reached the target
    std::atomic<std::uint64_t> delivered{0};      // all deliveries so far (progress line)
    std::atomic<bool> stop{false};
};

struct WatchWorkerResult {
    // Deliveries per revision, at index revision - start_revision.
    std::vector<std::uint32_t> delivered_by_revision;
    std::uint64_t delivered_untracked = 0;  // revisions past the tracked range
    std::uint64_t duplicates = 0;
    std::uint64_t watch_from_calls = 0;
    std::uint64_t compacted = 0;
    std::uint64_t timeouts = 0;       // watch_from unanswered within --request-timeout
    std::uint64_t error_replies = 0;  // other ok=false replies
    std::uint64_t bad_frames = 0;     // replies or stream messages not understood
    LatencyHistogram lag;             // receive - send time from the value
};

class WatchFanoutWorker {
public:
    // `nodes` are the watchers' node indexes into options.endpoints.
    WatchFanoutWorker(zmq::context_t& context, const BenchOptions& options, WatchShared& shared,
                      std::vector<std::uint32_t> nodes);

    void run();
    WatchWorkerResult& result() { return result_; }

private:
    struct Watcher {
        std::uint32_t node = 0;
        std::uint64_t covered = 0;    // exact: all events to here delivered; stream: last delivered
        std::uint64_t announced = 0;  // the highest revision the stream told of
        std::uint32_t generation = 0;
        bool outstanding = false;
        bool wanted = false;    // in wanted_: a watch_from is to be sent
        bool heard = false;     // a heartbeat came
        bool answered = false;  // exact: the first watch_from was answered
        bool set_up = false;
        bool caught_up = false;
        std::int64_t sent_ns = 0;
        std::int64_t retry_at_ns = 0;  // after an error reply: not before this
    };

    void open_sockets();
    void poll_once();
    void drain_subscriber(std::uint32_t index, std::int64_t now);
    void on_event(std::uint32_t index, const zmq::message_t& body, std::int64_t now);
    void on_heartbeat(std::uint32_t index, const zmq::message_t& body);
    void drain_dealer(std::uint32_t node, std::int64_t now);
    void on_reply(const zmq::message_t& body, std::int64_t now);
    void after_reply(std::uint32_t index);
    void want_watch_from(std::uint32_t index);
    void send_wanted(std::int64_t now);
    bool send_watch_from(std::uint32_t index, std::int64_t now);
    void deliver(Watcher& watcher, const SkimmedEvent& event, std::int64_t now);
    void check_progress(std::uint32_t index);
    void scan(std::int64_t now);

    zmq::context_t& context_;
    const BenchOptions& options_;
    WatchShared& shared_;
    const bool exact_;
    std::vector<Watcher> watchers_;
    std::vector<zmq::socket_t> subscribers_;  // one per watcher, same index
    std::vector<zmq::socket_t> dealers_;      // one per node (exact only)
    std::vector<zmq::pollitem_t> items_;      // dealers, then subscribers
    std::vector<std::uint32_t> wanted_;       // watchers that need a watch_from sent
    std::vector<std::uint32_t> sending_;
    std::int64_t next_scan_ns_ = 0;
    std::uint64_t delivered_ = 0;            // all deliveries, duplicates not included
    std::uint64_t delivered_published_ = 0;  // the part already added to shared_.delivered
    wire::ClientRequest request_;
    zmq::message_t topic_;
    zmq::message_t body_;
    zmq::message_t delimiter_;
    SkimmedWatchReply reply_;
    WatchWorkerResult result_;
};

}  // namespace cabildo::client::bench
