// FakeServer: a scripted stand-in for a Cabildo node's client endpoint, for
// the client tests. Not a node: it keeps no data and knows no Raft.
//
// A ROUTER bound to tcp://127.0.0.1:* on its own thread decodes each request
// with wire::decode_request(), records it, and asks the script what to do with
// it: reply (encode_reply), send raw bytes, or drop it (never answer, as a
// dead or partitioned node would). The script runs on the server thread and
// sees the request plus its 0-based index in arrival order. requests() is
// safe to call from the test thread at any time; once a client call has
// returned, every request it sent that reached the server is recorded.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "wire/client_messages.h"

namespace cabildo::client::testing {

struct FakeAction {
    enum class Kind { reply, raw, drop };
    Kind kind = Kind::drop;
    wire::ClientReply reply;
    std::string raw;

    static FakeAction send(wire::ClientReply reply);
    static FakeAction send_raw(std::string bytes);
    static FakeAction drop();
};

using FakeScript = std::function<FakeAction(const wire::ClientRequest& request, std::size_t index)>;

class FakeServer {
public:
    explicit FakeServer(FakeScript script);
    ~FakeServer();
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    // tcp://127.0.0.1:PORT, bound before the constructor returns.
    const std::string& endpoint() const { return endpoint_; }
    std::vector<wire::ClientRequest> requests() const;
    std::size_t request_count() const;

private:
    void run(zmq::socket_t socket);
    void handle(zmq::socket_t& socket);

    FakeScript script_;
    zmq::context_t context_;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<wire::ClientRequest> requests_;  // guarded by mutex_
    std::thread thread_;
};

// An endpoint nothing listens on: a port bound and released at once.
std::string dead_endpoint();

// Replies as a node would send them.
wire::ClientReply ok_reply(std::uint64_t revision, std::optional<std::string> leader = {});
wire::ClientReply error_reply(std::string_view code, std::string message,
                              std::optional<std::string> leader = {});

}  // namespace cabildo::client::testing
