// request_once: one Lazy Pirate attempt over a fresh REQ socket (request_once.h).
#include "client/request_once.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "wire/protocol.h"

namespace cabildo::client {

namespace {

// Replies above this are cut off by ZeroMQ (maxmsgsize) and never delivered,
// which then looks like a timeout; decode_reply() enforces the same cap.
constexpr std::int64_t reply_bytes_max = static_cast<std::int64_t>(wire::reply_frame_bytes_max);

Error exchange_error(Status status, const std::string& endpoint, std::string_view what) {
    return Error{status, fmt::format("{}: {}", endpoint, what)};
}

// Waits for the reply frame. nullopt = nothing arrived before the timeout.
std::optional<zmq::message_t> receive_reply(zmq::socket_t& socket,
                                            std::chrono::milliseconds timeout) {
    std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, timeout);
    if ((items[0].revents & ZMQ_POLLIN) == 0)
        return std::nullopt;
    zmq::message_t reply;
    if (!socket.recv(reply, zmq::recv_flags::dontwait))
        return std::nullopt;
    return reply;
}

// Drains extra frames so the socket is left in a sane state; true if there
// were any (a v1 reply is exactly one frame).
bool drain_extra_frames(zmq::socket_t& socket, const zmq::message_t& first) {
    bool more = first.more();
    const bool had_more = more;
    while (more) {
        zmq::message_t part;
        if (!socket.recv(part, zmq::recv_flags::dontwait))
            break;
        more = part.more();
    }
    return had_more;
}

// Sets `sent` once the frame is queued, so a later zmq error can be reported
// as "outcome unknown".
Result<wire::ClientReply> exchange(zmq::context_t& context, const std::string& endpoint,
                                   const std::string& frame, std::chrono::milliseconds timeout,
                                   bool& sent) {
    zmq::socket_t socket(context, zmq::socket_type::req);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, reply_bytes_max);
    try {
        socket.connect(endpoint);
    } catch (const zmq::error_t& error) {
        return exchange_error(Status::unavailable, endpoint,
                              fmt::format("cannot connect: {}", error.what()));
    }
    // Without `immediate` a REQ queues the frame for the pending connection,
    // so this does not fail for a node that is down: the poll times out.
    if (!socket.send(zmq::buffer(frame), zmq::send_flags::dontwait))
        return exchange_error(Status::unavailable, endpoint, "cannot send (queue full)");
    sent = true;
    std::optional<zmq::message_t> reply = receive_reply(socket, timeout);
    if (!reply) {
        return exchange_error(Status::timeout, endpoint,
                              fmt::format("no reply within {} ms", timeout.count()));
    }
    if (drain_extra_frames(socket, *reply))
        return exchange_error(Status::io_error, endpoint, "malformed reply: more than one frame");
    Result<wire::ClientReply> decoded = wire::decode_reply(reply->data(), reply->size());
    if (!decoded) {
        return exchange_error(Status::io_error, endpoint,
                              fmt::format("malformed reply: {}", decoded.error().detail));
    }
    return decoded;
}

}  // namespace

Result<wire::ClientReply> request_once(zmq::context_t& context, const std::string& endpoint,
                                       const std::string& frame,
                                       std::chrono::milliseconds timeout) {
    // The socket is closed (linger 0) when exchange() returns, on every path.
    bool sent = false;
    try {
        return exchange(context, endpoint, frame, timeout, sent);
    } catch (const zmq::error_t& error) {
        return exchange_error(sent ? Status::timeout : Status::unavailable, endpoint,
                              fmt::format("zmq error: {}", error.what()));
    }
}

}  // namespace cabildo::client
