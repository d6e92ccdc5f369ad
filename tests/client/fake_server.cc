// FakeServer: the scripted ROUTER thread (fake_server.h).
#include "tests/client/fake_server.h"

#include <chrono>
#include <iterator>
#include <zmq_addon.hpp>

namespace cabildo::client::testing {

namespace {

// How often the server thread looks at stop_; it is a poll timeout, not a
// sleep, and a request wakes it at once.
constexpr std::chrono::milliseconds stop_check_interval{10};
constexpr std::size_t frames_max = 8;

}  // namespace

FakeAction FakeAction::send(wire::ClientReply reply) {
    FakeAction action;
    action.kind = Kind::reply;
    action.reply = std::move(reply);
    return action;
}

FakeAction FakeAction::send_raw(std::string bytes) {
    FakeAction action;
    action.kind = Kind::raw;
    action.raw = std::move(bytes);
    return action;
}

FakeAction FakeAction::drop() {
    return FakeAction{};
}

FakeServer::FakeServer(FakeScript script) : script_(std::move(script)), context_(1) {
    // Bound here, on the test thread, then handed to the server thread: a
    // socket may move between threads with a full memory barrier in between
    // (std::thread's constructor is one).
    zmq::socket_t socket(context_, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("tcp://127.0.0.1:*");
    endpoint_ = socket.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this, s = std::move(socket)]() mutable { run(std::move(s)); });
}

FakeServer::~FakeServer() {
    stop_ = true;
    thread_.join();
}

std::vector<wire::ClientRequest> FakeServer::requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
}

std::size_t FakeServer::request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
}

void FakeServer::run(zmq::socket_t socket) {
    while (!stop_) {
        std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, stop_check_interval);
        if (items[0].revents & ZMQ_POLLIN)
            handle(socket);
    }
}

void FakeServer::handle(zmq::socket_t& socket) {
    std::vector<zmq::message_t> frames;
    const auto received = zmq::recv_multipart_n(socket, std::back_inserter(frames), frames_max);
    if (!received || frames.size() < 3)
        return;  // REQ gives [routing id]["" delimiter][body]
    const zmq::message_t& body = frames.back();
    Result<wire::ClientRequest> request = wire::decode_request(body.data(), body.size());
    if (!request)
        return;
    std::size_t index = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        index = requests_.size();
        requests_.push_back(*request);
    }
    const FakeAction action = script_(*request, index);
    if (action.kind == FakeAction::Kind::drop)
        return;
    const std::string reply =
        action.kind == FakeAction::Kind::raw ? action.raw : wire::encode_reply(action.reply);
    // Echo the envelope up to and including the empty delimiter.
    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
        socket.send(frames[i], zmq::send_flags::sndmore);
    }
    socket.send(zmq::buffer(reply), zmq::send_flags::none);
}

std::string dead_endpoint() {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("tcp://127.0.0.1:*");
    return socket.get(zmq::sockopt::last_endpoint);
}

wire::ClientReply ok_reply(std::uint64_t revision, std::optional<std::string> leader) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = revision;
    reply.leader = std::move(leader);
    return reply;
}

wire::ClientReply error_reply(std::string_view code, std::string message,
                              std::optional<std::string> leader) {
    wire::ClientReply reply = wire::make_error_reply(code, std::move(message), "");
    reply.leader = std::move(leader);
    return reply;
}

}  // namespace cabildo::client::testing
