// Node: forwarding between nodes, in batches.
//
// A follower forwards writes and linearizable reads to the leader's client
// endpoint over a DEALER, and the leader answers them there. Both ways the
// requests or answers of one loop turn travel together, as one message
//   [forward_batch_marker, id 1, body 1, id 2, body 2, ...]
// (PROTOCOL.md section 11), so a busy follower costs the leader one wakeup
// per turn rather than one per request. Inside a node a forwarded request's
// envelope is [peer identity, forward_marker, id, ""]: it is answered like
// any client's, and never forwarded again (no loops while leadership
// moves): the node answers no_leader instead and the client retries.
#include <spdlog/spdlog.h>

#include <cstring>

#include "node/frames.h"
#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

constexpr std::string_view forward_marker = "cabildo-fwd";
constexpr std::string_view forward_batch_marker = "cabildo-fwds";

}  // namespace

bool Node::is_forwarded(const Envelope& envelope) {
    return envelope.size() == 4 && envelope[1] == forward_marker;
}

bool Node::is_batch_marker(const zmq::message_t& frame) {
    return frame.to_string_view() == forward_batch_marker;
}

bool Node::forward(const Envelope& envelope, const std::string& id, const zmq::message_t& body,
                   Clock::time_point deadline) {
    const raft::NodeId leader = raft_.leader();
    if (forward_dealers_.count(leader) == 0) return false;  // its address is not known
    const std::uint64_t forward_id = next_forward_id_++;
    std::string id_frame(sizeof forward_id, '\0');
    std::memcpy(id_frame.data(), &forward_id, sizeof forward_id);
    Batch& batch = forward_batches_[leader];
    if (batch.frames.empty()) batch.frames.emplace_back(forward_batch_marker);
    batch.frames.push_back(std::move(id_frame));
    batch.frames.push_back(to_string(body));
    batch.forward_ids.push_back(forward_id);
    forwards_.emplace(forward_id, Forwarded{envelope, id, deadline});
    ++metrics_.forwarded;
    if (batch.forward_ids.size() >= forward_batch_max) flush_forwards();
    return true;
}

void Node::flush_forwards() {
    for (auto& [leader, batch] : forward_batches_) {
        if (batch.forward_ids.empty()) continue;
        std::string last = std::move(batch.frames.back());
        batch.frames.pop_back();
        auto dealer = forward_dealers_.find(leader);
        if (dealer == forward_dealers_.end() || !send_frames(dealer->second, batch.frames, last)) {
            for (std::uint64_t forward_id : batch.forward_ids) {
                auto it = forwards_.find(forward_id);
                if (it == forwards_.end()) continue;
                reply_error(it->second.envelope, wire::error_unavailable,
                            "the leader cannot be reached; retry", it->second.id);
                forwards_.erase(it);
            }
        }
        batch = Batch{};
    }
}

// At the leader: [identity, forward_batch_marker, id, body, id, body, ...].
// The caller checked the marker.
void Node::handle_forward_batch(std::vector<zmq::message_t>& parts) {
    if (parts.size() % 2 != 0) {
        ++bad_requests_;
        spdlog::warn("forward: dropped a batch of {} frames", parts.size());
        return;
    }
    const std::string identity = to_string(parts[0]);
    for (std::size_t i = 2; i + 1 < parts.size(); i += 2) {
        intake({identity, std::string(forward_marker), to_string(parts[i]), std::string()},
               std::move(parts[i + 1]), true);
    }
}

// At the leader: an answer to a forwarded request waits for the others of
// this turn (flush_forward_replies).
void Node::queue_forward_reply(const Envelope& envelope, std::string reply) {
    std::vector<std::string>& frames = forward_replies_[envelope[0]];
    if (frames.empty()) {
        frames.push_back(envelope[0]);
        frames.emplace_back(forward_batch_marker);
    }
    frames.push_back(envelope[2]);
    frames.push_back(std::move(reply));
    if ((frames.size() - 2) / 2 >= forward_batch_max) flush_forward_replies();
}

void Node::flush_forward_replies() {
    for (auto& [identity, frames] : forward_replies_) {
        if (frames.empty()) continue;
        std::string last = std::move(frames.back());
        frames.pop_back();
        // If the follower is gone, its clients time out there and retry.
        (void)send_frames(clients_, frames, last);
    }
    // Keyed by ROUTER identities, which every new connection gets afresh: a
    // map that kept its keys grew by one per connection, forever.
    forward_replies_.clear();
}

// At the follower: [forward_batch_marker, id, reply, id, reply, ...].
void Node::drain_forward_replies(zmq::socket_t& dealer) {
    for (std::size_t n = 0; n < drain_per_turn_max; ++n) {
        auto frames = recv_frames(dealer, forward_frames_max);
        if (!frames) return;
        const auto& parts = frames->parts;
        if (frames->truncated || parts.size() % 2 != 1 || !is_batch_marker(parts[0])) continue;
        for (std::size_t i = 1; i + 1 < parts.size(); i += 2) {
            if (parts[i].size() != sizeof(std::uint64_t)) continue;
            std::uint64_t forward_id = 0;
            std::memcpy(&forward_id, parts[i].data(), sizeof forward_id);
            auto it = forwards_.find(forward_id);
            if (it == forwards_.end()) continue;  // answered late, after we gave up
            send_frames(clients_, it->second.envelope, to_string(parts[i + 1]));
            note_answer(it->second.envelope, "forwarded");
            forwards_.erase(it);
        }
    }
}

}  // namespace cabildo::node
