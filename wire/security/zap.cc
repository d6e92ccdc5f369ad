// ZapHandler; see zap.h.
#include "wire/security/zap.h"

#include <spdlog/spdlog.h>

#include <zmq_addon.hpp>

namespace cabildo::wire {

namespace {
constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
constexpr std::size_t request_frames_min = 9;  // routing id, "", 7 ZAP frames (CURVE: 1 credential)
constexpr std::size_t request_frames_max = 16;

bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }
}  // namespace

std::string proven_key(const zmq::message_t& message) {
    const char* value = zmq_msg_gets(message.handle(), "User-Id");
    return value == nullptr ? std::string() : std::string(value);
}

ZapHandler::ZapHandler(zmq::context_t& context, Decide decide)
    : socket_(context, zmq::socket_type::router), decide_(std::move(decide)) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(zap_endpoint);
}

void ZapHandler::handle(std::size_t max) {
    for (std::size_t i = 0; i < max; ++i) {
        std::vector<zmq::message_t> request;
        if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
            return;
        }
        if (request.size() >= request_frames_min && request.size() <= request_frames_max) {
            answer(request);
        }
    }
}

// Request: [routing id, "", version, request id, domain, address, routing
// id, mechanism, credentials...]; reply: [routing id, "", version, request
// id, status code, status text, user id, metadata].
void ZapHandler::answer(std::vector<zmq::message_t>& request) {
    const std::string domain = request[4].to_string();
    const std::string address = request[5].to_string();
    const std::string mechanism = request[7].to_string();
    std::optional<std::string> user;
    if (request[2].to_string() == "1.0" && mechanism == "CURVE" && request[8].size() == 32) {
        char z85[41] = {};
        zmq_z85_encode(z85, static_cast<const std::uint8_t*>(request[8].data()), 32);
        user = decide_(domain, z85);
        if (!user) {
            ++refused_;
            if (worth_logging(refused_)) {
                spdlog::warn("security: refused a {} connection from {}: key {} is not in the "
                             "ACL file for it ({} refused so far)",
                             domain, address, z85, refused_);
            }
        }
    } else {
        ++refused_;
    }
    if (user) ++accepted_;
    std::vector<zmq::message_t> reply;
    reply.emplace_back(std::move(request[0]));
    reply.emplace_back();
    reply.emplace_back(std::string_view("1.0"));
    reply.emplace_back(std::move(request[3]));
    reply.emplace_back(std::string_view(user ? "200" : "400"));
    reply.emplace_back(std::string_view(user ? "OK" : "key not allowed"));
    reply.emplace_back(std::string_view(user.value_or("")));
    reply.emplace_back();
    (void)zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
}

}  // namespace cabildo::wire
