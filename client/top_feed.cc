// TopFeed (top_feed.h): SUB sockets on the nodes' hb/ topic.
#include "client/top_feed.h"

#include <cerrno>

#include "client/watcher.h"
#include "wire/protocol.h"

namespace cabildo::client {

namespace {

constexpr std::string_view heartbeat_topic_prefix = "hb/";
// A heartbeat is a status map, well under a reply frame; bigger is cut off.
constexpr std::int64_t heartbeat_bytes_max = static_cast<std::int64_t>(wire::reply_frame_bytes_max);
// Ten heartbeats a second per node: a small queue loses only stale ones.
constexpr int heartbeat_queue_max = 100;
// Messages read from one socket per poll(): the newest ones matter.
constexpr std::size_t heartbeats_per_drain_max = 1000;

}  // namespace

TopFeed::TopFeed(std::optional<ClientCurve> curve) : curve_(std::move(curve)), context_(1) {}

bool TopFeed::watch(const std::string& client_endpoint) {
    if (subscribers_.contains(client_endpoint))
        return true;
    const std::optional<std::string> pub = pub_endpoint_for(client_endpoint);
    if (!pub)
        return false;
    zmq::socket_t socket(context_, zmq::socket_type::sub);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, heartbeat_bytes_max);
    socket.set(zmq::sockopt::rcvhwm, heartbeat_queue_max);
    socket.set(zmq::sockopt::subscribe, heartbeat_topic_prefix);
    apply_curve(socket, curve_);
    socket.connect(*pub);
    subscribers_.emplace(client_endpoint, std::move(socket));
    return true;
}

std::vector<TopHeartbeat> TopFeed::poll(std::chrono::milliseconds wait, int input_fd) {
    std::vector<zmq::pollitem_t> items;
    for (auto& [endpoint, socket] : subscribers_)
        items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
    if (input_fd >= 0)
        items.push_back({nullptr, input_fd, ZMQ_POLLIN, 0});
    try {
        zmq::poll(items, wait);
    } catch (const zmq::error_t& error) {
        // A signal (Ctrl-C, a terminal resize): the caller looks at it.
        if (error.num() != EINTR)
            throw;
    }
    std::vector<TopHeartbeat> heartbeats;
    for (auto& [endpoint, socket] : subscribers_) drain(endpoint, socket, heartbeats);
    return heartbeats;
}

// The stream is untrusted: a message of the wrong shape, or one that does
// not decode as a status reply, is skipped.
void TopFeed::drain(const std::string& endpoint, zmq::socket_t& socket,
                    std::vector<TopHeartbeat>& out) {
    for (std::size_t i = 0; i < heartbeats_per_drain_max; ++i) {
        zmq::message_t topic;
        if (!socket.recv(topic, zmq::recv_flags::dontwait))
            return;
        zmq::message_t body;
        bool complete = topic.more() && socket.recv(body, zmq::recv_flags::dontwait);
        bool more = complete && body.more();
        while (more) {
            zmq::message_t extra;
            more = socket.recv(extra, zmq::recv_flags::dontwait) && extra.more();
            complete = false;
        }
        if (!complete || !topic.to_string_view().starts_with(heartbeat_topic_prefix))
            continue;
        Result<wire::ClientReply> reply = wire::decode_reply(body.data(), body.size());
        if (reply && reply->status)
            out.push_back(TopHeartbeat{endpoint, std::move(*reply->status)});
    }
}

}  // namespace cabildo::client
