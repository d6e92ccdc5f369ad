// Multipart helpers; see frames.h.
#include "node/frames.h"

namespace cabildo::node {

std::optional<Frames> recv_frames(zmq::socket_t& socket, std::size_t frames_max) {
    Frames frames;
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::dontwait)) return std::nullopt;
    for (;;) {
        const bool more = part.more();
        if (frames.parts.size() < frames_max) {
            frames.parts.push_back(std::move(part));
        } else {
            frames.truncated = true;
        }
        if (!more) return frames;
        part = zmq::message_t();
        // The rest of a multipart message is already here: this cannot block.
        (void)socket.recv(part, zmq::recv_flags::none);
    }
}

bool send_frames(zmq::socket_t& socket, const std::vector<std::string>& head,
                 std::string_view body) {
    // Only the first part can fail for lack of room: once ZeroMQ takes it,
    // it takes the whole message (atomic delivery), so the rest cannot block.
    try {
        zmq::send_flags first = zmq::send_flags::dontwait;
        for (const std::string& part : head) {
            if (!socket.send(zmq::buffer(part), first | zmq::send_flags::sndmore)) return false;
            first = zmq::send_flags::none;
        }
        return socket.send(zmq::buffer(body.data(), body.size()), first).has_value();
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return false;  // router_mandatory: that client is gone
        throw;
    }
}

}  // namespace cabildo::node
