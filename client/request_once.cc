// request_once and request_each: Lazy Pirate attempts over fresh REQ sockets
// (request_once.h). request_once() is request_each() with one endpoint, so
// there is one code path for both.
#include "client/request_once.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "wire/protocol.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;

// Replies above this are cut off by ZeroMQ (maxmsgsize) and never delivered,
// which then looks like a timeout; decode_reply() enforces the same cap.
constexpr std::int64_t reply_bytes_max = static_cast<std::int64_t>(wire::reply_frame_bytes_max);

Error exchange_error(Status status, const std::string& endpoint, std::string_view what) {
    return Error{status, fmt::format("{}: {}", endpoint, what)};
}

// One endpoint's attempt. Invariant: once result is set, socket is unused.
struct Attempt {
    const std::string* endpoint = nullptr;
    std::optional<zmq::socket_t> socket;
    bool sent = false;  // the frame was queued: the node may act on it
    std::optional<Result<wire::ClientReply>> result;
};

void open_and_send(zmq::context_t& context, const std::string& frame,
                   const std::optional<ClientCurve>& curve, Attempt& attempt) {
    attempt.socket.emplace(context, zmq::socket_type::req);
    zmq::socket_t& socket = *attempt.socket;
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, reply_bytes_max);
    apply_curve(socket, curve);
    try {
        socket.connect(*attempt.endpoint);
    } catch (const zmq::error_t& error) {
        attempt.result = exchange_error(Status::unavailable, *attempt.endpoint,
                                        fmt::format("cannot connect: {}", error.what()));
        return;
    }
    // Without `immediate` a REQ queues the frame for the pending connection,
    // so this does not fail for a node that is down: the poll times out.
    if (!socket.send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
        attempt.result =
            exchange_error(Status::unavailable, *attempt.endpoint, "cannot send (queue full)");
        return;
    }
    attempt.sent = true;
}

// Reads the reply the poll announced. A v1 reply is exactly one frame.
Result<wire::ClientReply> read_reply(zmq::socket_t& socket, const std::string& endpoint) {
    zmq::message_t reply;
    if (!socket.recv(reply, zmq::recv_flags::dontwait))
        return exchange_error(Status::timeout, endpoint, "reply vanished");
    bool more = reply.more();
    const bool extra_frames = more;
    while (more) {
        zmq::message_t part;
        if (!socket.recv(part, zmq::recv_flags::dontwait))
            break;
        more = part.more();
    }
    if (extra_frames)
        return exchange_error(Status::io_error, endpoint, "malformed reply: more than one frame");
    Result<wire::ClientReply> decoded = wire::decode_reply(reply.data(), reply.size());
    if (!decoded) {
        return exchange_error(Status::io_error, endpoint,
                              fmt::format("malformed reply: {}", decoded.error().detail));
    }
    return decoded;
}

// Polls every attempt still waiting until each has a reply or the deadline.
void await_replies(std::vector<Attempt>& attempts, Clock::time_point deadline) {
    while (true) {
        std::vector<zmq::pollitem_t> items;
        std::vector<Attempt*> waiting;
        for (Attempt& attempt : attempts) {
            if (attempt.result)
                continue;
            items.push_back({attempt.socket->handle(), 0, ZMQ_POLLIN, 0});
            waiting.push_back(&attempt);
        }
        const auto remaining =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (items.empty() || remaining.count() <= 0)
            return;
        zmq::poll(items, remaining);
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (items[i].revents & ZMQ_POLLIN)
                waiting[i]->result = read_reply(*waiting[i]->socket, *waiting[i]->endpoint);
        }
    }
}

void exchange_all(zmq::context_t& context, const std::string& frame,
                  std::chrono::milliseconds timeout, const std::optional<ClientCurve>& curve,
                  std::vector<Attempt>& attempts) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (Attempt& attempt : attempts) {
        open_and_send(context, frame, curve, attempt);
    }
    await_replies(attempts, deadline);
}

}  // namespace

std::vector<Result<wire::ClientReply>> request_each(zmq::context_t& context,
                                                    const std::vector<std::string>& endpoints,
                                                    const std::string& frame,
                                                    std::chrono::milliseconds timeout,
                                                    const std::optional<ClientCurve>& curve) {
    std::vector<Attempt> attempts(endpoints.size());
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        attempts[i].endpoint = &endpoints[i];
    }
    std::string failure = fmt::format("no reply within {} ms", timeout.count());
    try {
        exchange_all(context, frame, timeout, curve, attempts);
    } catch (const zmq::error_t& error) {
        failure = fmt::format("zmq error: {}", error.what());
    }
    std::vector<Result<wire::ClientReply>> results;
    for (Attempt& attempt : attempts) {
        if (attempt.result) {
            results.push_back(std::move(*attempt.result));
        } else {
            const Status status = attempt.sent ? Status::timeout : Status::unavailable;
            results.push_back(exchange_error(status, *attempt.endpoint, failure));
        }
    }
    // The sockets close here (linger 0) on every path, as Lazy Pirate requires.
    return results;
}

Result<wire::ClientReply> request_once(zmq::context_t& context, const std::string& endpoint,
                                       const std::string& frame,
                                       std::chrono::milliseconds timeout,
                                       const std::optional<ClientCurve>& curve) {
    return std::move(request_each(context, {endpoint}, frame, timeout, curve).front());
}

}  // namespace cabildo::client
