// Reading and writing multipart ZeroMQ messages from untrusted peers.
//
// recv_frames keeps at most frames_max frames and drains the rest, so an
// oversized envelope can neither allocate without bound nor leave a tail
// behind to be mistaken for the next message (cppzmq's recv_multipart_n
// throws half-way through and does leave it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace cabildo::node {

struct Frames {
    std::vector<zmq::message_t> parts;
    bool truncated = false;  // the message had more than frames_max parts
};

// Non-blocking: nullopt when nothing is waiting.
std::optional<Frames> recv_frames(zmq::socket_t& socket, std::size_t frames_max);

// Sends each of head, then body, never blocking. False if the socket would
// block (peer backlogged or not connected) or the peer is unknown.
bool send_frames(zmq::socket_t& socket, const std::vector<std::string>& head,
                 std::string_view body);

inline std::string to_string(const zmq::message_t& m) {
    return std::string(static_cast<const char*>(m.data()), m.size());
}

}  // namespace cabildo::node
