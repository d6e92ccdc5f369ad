// Broker: requests from the ROUTER front and the PULL, forwarded to a node;
// replies relayed back. See broker.h.
//
// A forwarded request is [forward-id (8 bytes), "", request] on the node's
// DEALER. The node sees [our identity, forward-id, "", request] and answers
// every envelope frame back, so the DEALER receives [forward-id, "", reply].
// The node cannot mistake it for a node-to-node forward (whose second frame
// is "cabildo-fwd"), so a follower passes it on to its leader itself.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "broker/broker.h"
#include "wire/protocol.h"

namespace cabildo::broker {

namespace {

// Logs the 1st, 2nd, 4th, 8th... occurrence: hostile input cannot flood the log.
bool worth_logging(std::uint64_t count) {
    return (count & (count - 1)) == 0;
}

std::string_view view(const zmq::message_t& m) {
    return {static_cast<const char*>(m.data()), m.size()};
}

}  // namespace

void Broker::drain_front() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = node::recv_frames(front_, client_frames_max);
        if (!frames)
            return;
        handle_request(*frames);
    }
}

// The envelope is everything up to the first empty frame (REQ and DEALER
// clients put one before the body); exactly one frame must follow it. With
// no empty frame, the last frame is the body, as the node reads it.
void Broker::handle_request(node::Frames& frames) {
    std::vector<zmq::message_t>& parts = frames.parts;
    if (parts.size() < 2) {  // a ROUTER always gives identity + something
        ++bad_requests_;
        return;
    }
    std::size_t body_at = parts.size() - 1;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if (parts[i].size() == 0) {
            body_at = i + 1;
            break;
        }
    }
    Envelope envelope;
    for (std::size_t i = 0; i < body_at && i < parts.size(); ++i) {
        envelope.push_back(node::to_string(parts[i]));
    }
    if (frames.truncated || body_at != parts.size() - 1) {
        if (worth_logging(++bad_requests_)) {
            spdlog::warn("broker: bad request #{}: {} frames", bad_requests_, parts.size());
        }
        const zmq::message_t& first = parts[std::min(body_at, parts.size() - 1)];
        reply_error(envelope, wire::error_bad_request,
                    "a request is exactly one frame after the envelope",
                    wire::extract_id(first.data(), first.size()));
        return;
    }
    forward(std::move(envelope), parts.back());
}

void Broker::forward(Envelope envelope, const zmq::message_t& body) {
    std::string id = wire::extract_id(body.data(), body.size());
    // Security on: the node would take it with the broker's rights, so the
    // sender's own are checked here, and a refusal forwards nothing.
    if (auto denied = security_.admit(body, now_)) {
        if (denied->code == wire::error_bad_request) ++bad_requests_;
        reply_error(envelope, denied->code, std::move(denied->message), std::move(id));
        return;
    }
    const std::uint32_t wait_ms = wire::extract_wait_ms(body.data(), body.size());
    if (pending_.size() + waiting_.size() >= pending_requests_max) {
        ++unavailable_;
        reply_error(envelope, wire::error_overloaded,
                    "the broker has too many requests in flight; back off and retry",
                    std::move(id));
        return;
    }
    const std::uint64_t forward_id = next_forward_id_++;
    std::string id_frame(sizeof forward_id, '\0');
    std::memcpy(id_frame.data(), &forward_id, sizeof forward_id);
    for (NodeId target : tracker_.targets(now_)) {
        // Fails at once when the node is not connected (immediate=1) or backlogged.
        if (!node::send_frames(link(target).dealer, {id_frame, std::string()}, view(body))) {
            continue;
        }
        const auto deadline = now_ + std::chrono::milliseconds(config_.request_timeout_ms) +
                              std::chrono::milliseconds(wait_ms);
        (wait_ms == 0 ? pending_ : waiting_)
            .emplace(forward_id,
                     Pending{std::move(envelope), std::move(id), deadline, target, now_});
        return;
    }
    if (worth_logging(++unavailable_)) {
        spdlog::warn("broker: no node could take a request (#{})", unavailable_);
    }
    reply_error(envelope, wire::error_unavailable, "no cluster node can be reached; retry",
                std::move(id));
}

void Broker::drain_replies(NodeLink& from) {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = node::recv_frames(from.dealer, client_frames_max);
        if (!frames)
            return;
        const std::vector<zmq::message_t>& parts = frames->parts;
        if (frames->truncated || parts.size() != 3 || parts[0].size() != sizeof(std::uint64_t) ||
            parts[1].size() != 0) {
            ++bad_stream_messages_;
            continue;
        }
        std::uint64_t forward_id = 0;
        std::memcpy(&forward_id, parts[0].data(), sizeof forward_id);
        auto& map = waiting_.contains(forward_id) ? waiting_ : pending_;
        auto it = map.find(forward_id);
        if (it == map.end())
            continue;  // answered after we gave up on it
        relay(it->second, parts[2]);
        map.erase(it);
    }
}

// The reply goes back as the node wrote it, except for its `leader` hint:
// clients follow that hint, and it must lead them back here, not around the
// broker to a node they may not even be able to reach.
void Broker::relay(const Pending& pending, const zmq::message_t& reply) {
    bool sent = false;
    auto decoded = wire::decode_reply(reply.data(), reply.size());
    if (decoded && decoded->leader && *decoded->leader != advertised_) {
        decoded->leader = advertised_;
        sent = node::send_frames(front_, pending.envelope, wire::encode_reply(*decoded));
    } else {
        sent = node::send_frames(front_, pending.envelope, view(reply));
    }
    if (!sent)
        ++lost_replies_;
    ++relayed_;
    latency_.observe(Clock::now() - pending.received);
}

void Broker::reply_error(const Envelope& envelope, std::string_view code, std::string message,
                         std::string id) {
    wire::ClientReply reply = wire::make_error_reply(code, std::move(message), std::move(id));
    reply.leader = leader_hint();
    if (!node::send_frames(front_, envelope, wire::encode_reply(reply)))
        ++lost_replies_;
}

void Broker::expire_requests(Clock::time_point now) {
    const auto time_out = [&](Pending& p) {
        ++timeouts_;
        reply_error(p.envelope, wire::error_timeout,
                    "node " + std::to_string(p.node) + " did not answer in time (" +
                        std::to_string(config_.request_timeout_ms) +
                        " ms after any wait); the outcome is unknown (retry with the same session "
                        "and seq)",
                    std::move(p.id));
    };
    while (!pending_.empty() && pending_.begin()->second.deadline <= now) {
        time_out(pending_.begin()->second);
        pending_.erase(pending_.begin());
    }
    if (now < next_waiting_scan_) return;
    next_waiting_scan_ = now + std::chrono::milliseconds(10);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline > now) {
            ++it;
            continue;
        }
        time_out(it->second);
        it = waiting_.erase(it);
    }
}

// Fire-and-forget writes: to the leader's PULL if it takes it at once, else
// to any live node (which passes it to its leader), else dropped.
void Broker::drain_pull() {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = node::recv_frames(pull_, 1);
        if (!frames)
            return;
        if (frames->truncated) {
            ++bad_requests_;
            continue;
        }
        const zmq::message_t& body = frames->parts[0];
        if (auto denied = security_.admit(body, now_)) {
            if (worth_logging(++denied_pushes_)) {
                spdlog::warn("broker: dropped a pushed write (#{}): {}: {}", denied_pushes_,
                             denied->code, denied->message);
            }
            continue;
        }
        bool sent = false;
        for (NodeId target : tracker_.targets(now_)) {
            if (link(target).push.send(zmq::buffer(body.data(), body.size()),
                                       zmq::send_flags::dontwait)) {
                sent = true;
                ++pushes_passed_;
                break;
            }
        }
        if (!sent && worth_logging(++dropped_pushes_)) {
            spdlog::warn("broker: dropped a pushed write: no node takes it (#{})", dropped_pushes_);
        }
    }
}

}  // namespace cabildo::broker
