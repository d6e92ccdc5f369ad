// ClosedLoopWorker: one thread's share of a closed-loop run (closed_loop.h).
// Internal to client/bench.
//
// It owns its sockets (ZeroMQ sockets are single-threaded) and its clients,
// and runs one zmq::poll loop: send for every ready client, poll, take every
// reply that came, and every 10 ms expire requests past the timeout and wake
// delayed clients. Requests are pre-encoded RequestTemplates patched with a
// key number and an id = (generation << 32) | client index; a reply whose id
// does not match an outstanding request of the same generation is a late
// reply to an expired request and is dropped.
// Invariant: outstanding_ = the number of clients with outstanding == true.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "client/bench/bench_options.h"
#include "client/bench/bench_result.h"
#include "client/bench/closed_loop.h"
#include "client/bench/request_template.h"

namespace cabildo::client::bench {

struct ClosedLoopShared {
    std::atomic<std::uint64_t> tickets{0};  // requests claimed so far (count mode, sequential keys)
    std::int64_t start_ns = 0;              // steady clock
};

struct ConnectionSpec {
    std::string endpoint;
    std::vector<std::uint32_t> clients;  // global client numbers
};

class ClosedLoopWorker {
public:
    ClosedLoopWorker(zmq::context_t& context, const BenchOptions& options,
                     const ClosedLoopPlan& plan, ClosedLoopShared& shared, LiveCounters& live,
                     std::vector<ConnectionSpec> connections);

    void run();
    ClosedLoopResult& result() { return result_; }

private:
    struct Slot {
        std::uint32_t connection = 0;
        std::uint32_t generation = 0;
        bool outstanding = false;
        bool finished = false;
        bool holds_ticket = false;
        std::uint64_t ticket = 0;
        std::int64_t sent_ns = 0;
        std::uint64_t rng = 0;
        std::uint64_t session = 0;
        std::uint64_t seq = 0;
        RequestTemplate put;
        RequestTemplate get;
    };
    struct Connection {
        std::string endpoint;
        zmq::socket_t socket;
    };

    void open_socket(Connection& connection);
    void build_slots(const std::vector<ConnectionSpec>& specs);
    void send_ready(std::int64_t now_ns);
    bool try_send(std::uint32_t index, std::int64_t now_ns);
    std::string_view lease_or_txn_frame(Slot& slot, std::uint64_t key_number, std::uint64_t id);
    std::string_view next_frame(Slot& slot, std::uint32_t index);
    void receive(std::uint32_t connection, std::int64_t now_ns);
    void on_reply(std::uint32_t connection, const zmq::message_t& body, std::int64_t now_ns);
    void complete(std::uint32_t index, std::int64_t now_ns, bool ok, ErrorKind kind);
    void count_error(ErrorKind kind);
    void scan(std::int64_t now_ns);
    void finish(std::uint32_t index);
    int poll_timeout_ms(std::int64_t now_ns) const;

    zmq::context_t& context_;
    const BenchOptions& options_;
    const ClosedLoopPlan& plan_;
    ClosedLoopShared& shared_;
    LiveCounters& live_;
    std::vector<Connection> connections_;
    std::vector<Slot> slots_;
    std::vector<zmq::pollitem_t> items_;
    bool items_stale_ = true;  // a REQ socket was reopened
    std::vector<std::uint32_t> ready_;
    std::vector<std::uint32_t> sending_;
    std::vector<std::pair<std::int64_t, std::uint32_t>> delayed_;  // (wake at, client)
    std::uint32_t active_ = 0;       // clients not finished
    std::uint32_t outstanding_ = 0;
    bool stopping_ = false;
    std::int64_t next_scan_ns_ = 0;
    wire::ClientRequest session_request_;  // --sessions: re-encoded per write
    std::string session_frame_;
    zmq::message_t delimiter_;
    zmq::message_t body_;
    ClosedLoopResult result_;
};

}  // namespace cabildo::client::bench
