// The client's sockets speak CURVE (client/client_curve.h): against a fake
// secured node -- a CURVE server ROUTER and PUB whose ZAP handler lets in
// one client key, as a node with --curve-key and --acl does -- a Client and
// a Watcher with the right keys get through; without keys, with a key the
// node does not list, or expecting another server key, nothing reaches the
// node and the error says that no node answered, and why that may be.
#include "wire/security/curve.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "client/client.h"
#include "client/watcher.h"
#include "wire/security/zap.h"

namespace cabildo::client {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds poll_interval{5};
constexpr std::chrono::milliseconds heartbeat_interval{20};
constexpr int bind_attempts_max = 50;

// A secured node's client (P) and PUB (P + 1) endpoints, answering every
// request ok and publishing a heartbeat every 20 ms. Only `client_key`
// passes the handshake.
class SecureNode {
public:
    SecureNode(wire::CurveKeys server, std::string client_key)
        : server_(std::move(server)),
          client_key_(std::move(client_key)),
          context_(1),
          zap_(context_, [this](const std::string&, const std::string& key) {
              return key == client_key_ ? std::optional<std::string>("web") : std::nullopt;
          }) {
        for (int attempt = 0; attempt < bind_attempts_max && endpoint_.empty(); ++attempt)
            try_bind();
        EXPECT_FALSE(endpoint_.empty()) << "no port pair P, P+1 could be bound";
        thread_ = std::thread([this] { run(); });
    }
    ~SecureNode() {
        stop_ = true;
        thread_.join();
    }

    const std::string& endpoint() const { return endpoint_; }
    std::size_t requests() const { return requests_; }
    std::uint64_t refused() const { return refused_; }

private:
    void try_bind() {
        zmq::socket_t router(context_, zmq::socket_type::router);
        router.set(zmq::sockopt::linger, 0);
        wire::make_curve_server(router, server_, "client");
        router.bind("tcp://127.0.0.1:*");
        const std::string bound = router.get(zmq::sockopt::last_endpoint);
        const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
        zmq::socket_t pub(context_, zmq::socket_type::pub);
        pub.set(zmq::sockopt::linger, 0);
        wire::make_curve_server(pub, server_, "pub");
        try {
            pub.bind("tcp://127.0.0.1:" + std::to_string(port + 1));
        } catch (const zmq::error_t&) {
            return;  // taken: both close, try another pair
        }
        endpoint_ = bound;
        router_ = std::move(router);
        pub_ = std::move(pub);
    }

    void serve_one() {
        zmq::multipart_t frames;
        if (!frames.recv(router_, static_cast<int>(zmq::recv_flags::dontwait)) ||
            frames.size() != 3)
            return;
        const std::string body = frames[2].to_string();
        auto request = wire::decode_request(body.data(), body.size());
        if (!request)
            return;
        ++requests_;
        wire::ClientReply reply;
        reply.ok = true;
        reply.revision = 1;
        if (request->op == wire::Op::status)
            reply.status = wire::NodeStatus{};
        if (request->op == wire::Op::watch_from) {
            reply.events.emplace();
            reply.more = false;
        }
        zmq::multipart_t out;
        out.add(std::move(frames[0]));
        out.addstr("");
        out.addstr(wire::encode_reply(reply));
        out.send(router_);
    }

    void heartbeat() {
        wire::ClientReply reply;
        reply.ok = true;
        reply.status = wire::NodeStatus{};
        reply.status->node_id = 1;
        reply.status->applied_index = 1;
        zmq::multipart_t message;
        message.addstr("hb/1");
        message.addstr(wire::encode_reply(reply));
        message.send(pub_);
    }

    void run() {
        Clock::time_point next_heartbeat = Clock::now();
        while (!stop_) {
            std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0},
                                               {zap_.socket().handle(), 0, ZMQ_POLLIN, 0}};
            zmq::poll(items, poll_interval);
            if (items[1].revents & ZMQ_POLLIN) {
                zap_.handle();
                refused_ = zap_.refused();
            }
            if (items[0].revents & ZMQ_POLLIN)
                serve_one();
            if (Clock::now() >= next_heartbeat) {
                heartbeat();
                next_heartbeat = Clock::now() + heartbeat_interval;
            }
        }
    }

    const wire::CurveKeys server_;
    const std::string client_key_;
    zmq::context_t context_;
    wire::ZapHandler zap_;  // bound before any CURVE server socket
    zmq::socket_t router_;
    zmq::socket_t pub_;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> requests_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::thread thread_;
};

ClientOptions options_for(const SecureNode& node, std::optional<ClientCurve> curve) {
    ClientOptions options;
    options.endpoints = {node.endpoint()};
    options.request_timeout = 150ms;
    options.total_timeout = 400ms;
    options.curve = std::move(curve);
    return options;
}

struct Keys {
    wire::CurveKeys server = wire::curve_keypair();
    wire::CurveKeys client = wire::curve_keypair();
    ClientCurve curve() const { return ClientCurve{client, server.public_key}; }
};

TEST(CurveClient, TheRightKeysGetAnAnswer) {
    const Keys keys;
    SecureNode node(keys.server, keys.client.public_key);
    // The first handshake may take longer than one attempt on a busy host.
    ClientOptions patient = options_for(node, keys.curve());
    patient.total_timeout = 5s;
    Client patient_client(patient);
    Result<WriteResult> put = patient_client.put("k", "v");
    ASSERT_TRUE(put.ok()) << put.error().detail;
    EXPECT_GE(node.requests(), 1u);
    Result<wire::NodeStatus> status = patient_client.status(node.endpoint());
    EXPECT_TRUE(status.ok()) << status.error().detail;
}

TEST(CurveClient, WithoutTheRightKeysNothingGetsThroughAndTheErrorSaysWhy) {
    const Keys keys;
    SecureNode node(keys.server, keys.client.public_key);
    const wire::CurveKeys stranger = wire::curve_keypair();
    struct Case {
        std::string name;
        std::optional<ClientCurve> curve;
        std::string hint;
    };
    const std::vector<Case> cases = {
        {"no keys", std::nullopt, "--curve-key FILE --server-key FILE"},
        {"a key the node does not list", ClientCurve{stranger, keys.server.public_key},
         "check both key files"},
        {"another server key", ClientCurve{keys.client, stranger.public_key},
         "check both key files"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Client client(options_for(node, c.curve));
        Result<GetResult> get = client.get("k");
        ASSERT_FALSE(get.ok());
        EXPECT_EQ(get.error().status, Status::unavailable);
        EXPECT_NE(get.error().detail.find("no node answered"), std::string::npos)
            << get.error().detail;
        EXPECT_NE(get.error().detail.find(c.hint), std::string::npos) << get.error().detail;
    }
    EXPECT_EQ(node.requests(), 0u);
}

// The SUB socket is a CURVE client too: heartbeats arrive, so the watcher
// never takes the node for silent and stays on it.
TEST(CurveWatcher, TheStreamComesThroughWithTheKeys) {
    const Keys keys;
    SecureNode node(keys.server, keys.client.public_key);
    WatchOptions options;
    options.endpoints = {node.endpoint()};
    options.from_revision = 1;
    options.request_timeout = 2s;
    options.silence_timeout = 500ms;
    options.curve = keys.curve();
    Watcher watcher(options);
    const Clock::time_point until = Clock::now() + 3 * options.silence_timeout;
    while (Clock::now() < until) {
        Result<std::vector<wire::Event>> batch = watcher.next(50ms);
        ASSERT_TRUE(batch.ok()) << batch.error().detail;
    }
    EXPECT_EQ(watcher.node_switches(), 0u);
    EXPECT_GE(node.requests(), 1u);  // the first watch_from
}

// A watch that never reaches a node ends once unanswered_max has passed,
// saying so, instead of cycling through the endpoints forever.
TEST(CurveWatcher, NeverAnsweredEndsAfterUnansweredMax) {
    const Keys keys;
    SecureNode node(keys.server, keys.client.public_key);
    WatchOptions options;
    options.endpoints = {node.endpoint()};
    options.request_timeout = 100ms;
    options.silence_timeout = 100ms;
    options.unanswered_max = 300ms;
    Watcher watcher(options);
    const Clock::time_point start = Clock::now();
    std::optional<Error> failed;
    while (!failed && Clock::now() < start + 5s) {
        Result<std::vector<wire::Event>> batch = watcher.next(50ms);
        if (!batch)
            failed = batch.error();
    }
    ASSERT_TRUE(failed.has_value()) << "the watch did not give up";
    EXPECT_EQ(failed->status, Status::unavailable);
    EXPECT_NE(failed->detail.find("no node answered"), std::string::npos) << failed->detail;
    EXPECT_GE(Clock::now() - start, options.unanswered_max);
    EXPECT_EQ(node.requests(), 0u);
}

}  // namespace
}  // namespace cabildo::client
