// WatchPutter: the writer of a watch fan-out run (watch_fanout.h). An open
// loop of puts at --rate over DEALER sockets, one per endpoint, round-robin.
//
// Put i is due at start + i / rate, whatever the replies do (token pacing),
// so a slow cluster builds a backlog instead of lowering the rate; at most
// inflight_puts_max are outstanding, and past that the schedule falls behind
// (send_lag_ms_max says by how much), and what is still unsent at the end
// of --duration is not_sent. Keys are "watch/key-NNNNNN", uniform
// over --key-space; a value starts with its send time (steady clock, ns, in
// decimal) and is padded with 'x' to --value-size, so any watcher in this
// process can compute the delivery lag from the value alone. The request id
// is the put's number. A put not answered within --request-timeout counts as
// client_timeout. Single-threaded: run() on one thread, then read result().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/bench_result.h"

namespace cabildo::client::bench {

inline constexpr std::string_view watch_prefix = "watch/";       // what the watchers watch
inline constexpr std::string_view watch_key_prefix = "watch/key-";  // + 6 digits
inline constexpr std::uint32_t inflight_puts_max = 10000;

struct WatchPutResult {
    std::uint64_t scheduled = 0;
    std::uint64_t sent = 0;
    std::uint64_t not_sent = 0;  // due, but the run ended first (inflight_puts_max reached)
    std::uint64_t ok = 0;
    ErrorCounts errors{};
    LatencyHistogram latency;  // reply - send, successful puts
    // The revisions the acknowledged puts committed at, in reply order.
    std::vector<std::uint64_t> revisions;
    std::uint64_t revision_max = 0;
    double send_lag_ms_max = 0;  // how far sending fell behind the schedule
    double send_s = 0;           // first to last send
};

class WatchPutter {
public:
    WatchPutter(zmq::context_t& context, const BenchOptions& options, LiveCounters& live);

    // Puts for options.duration, then waits for the outstanding replies (up
    // to the request timeout). Returns early, without waiting, once `stop`.
    void run(const std::atomic<bool>& stop);
    WatchPutResult& result() { return result_; }

private:
    void send_due(std::int64_t now);
    bool send_put(std::uint64_t number, std::int64_t now);
    void receive(zmq::socket_t& socket, std::int64_t now);
    void on_reply(const zmq::message_t& body, std::int64_t now);
    void expire(std::int64_t now);
    std::int64_t due_ns(std::uint64_t number) const;
    std::uint64_t next_key_number();

    const BenchOptions& options_;
    LiveCounters& live_;
    std::vector<zmq::socket_t> dealers_;
    std::vector<zmq::pollitem_t> items_;
    // Send time per put number; 0 = not sent, -1 = answered or expired.
    std::vector<std::int64_t> sent_ns_;
    std::deque<std::uint64_t> outstanding_;  // put numbers in send order
    std::uint64_t inflight_ = 0;
    std::uint64_t next_ = 0;
    std::uint64_t rng_ = 0;
    std::int64_t start_ns_ = 0;
    std::int64_t last_send_ns_ = 0;
    wire::ClientRequest request_;
    std::string value_;
    zmq::message_t delimiter_;
    zmq::message_t body_;
    WatchPutResult result_;
};

}  // namespace cabildo::client::bench
