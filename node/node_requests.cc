// Node: client requests from the ROUTER and the PULL socket. A follower
// forwards writes and linearizable reads to the leader (node_forward.cc).
#include <spdlog/spdlog.h>

#include <cstring>

#include "node/frames.h"
#include "node/kv_reads.h"
#include "node/node.h"
#include "wire/command.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

constexpr std::size_t watch_scan_max = 100000;  // history entries examined per watch_from

bool is_write(const wire::ClientRequest& request) {
    return wire::is_command_op(request.op) &&
           !(request.op == wire::Op::txn && wire::is_read_only(*request.txn));
}

// Logs the 1st, 2nd, 4th, 8th... occurrence: hostile input cannot flood the log.
bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }

}  // namespace

// Every client message as it arrives (and each request of a forwarded
// batch): decoded, then answered at once if that is cheap and bounded
// (status, refusals), or queued in the inbox, with its arrival time.
void Node::intake(Envelope envelope, zmq::message_t body, bool trusted) {
    envelope.received = Clock::now();
    auto request = wire::decode_request(body.data(), body.size());
    if (!request) {
        if (worth_logging(++bad_requests_)) {
            spdlog::warn("client: bad request #{}: {}", bad_requests_, request.error().detail);
        }
        reply_error(envelope, wire::error_code(request.error().status), request.error().detail,
                    wire::extract_id(body.data(), body.size()));
        return;
    }
    envelope.op = static_cast<std::uint8_t>(request->op);
    if (request->op == wire::Op::status) {
        answer_status(envelope, *request);
        return;
    }
    if (is_write(*request)) {
        metrics_.rates.wrote();
    } else {
        metrics_.rates.read();
    }
    if (!trusted) {
        if (auto denied = security_.admit(body, *request, Clock::now())) {
            reply_error(envelope, denied->code, std::move(denied->message), request->id);
            return;
        }
    }
    if (leaving()) {
        // Forwarded now, it could be lost as this node exits; the client
        // goes to `leader` at once (PROTOCOL.md, unavailable).
        reply_error(envelope, wire::error_unavailable,
                    "this node is shutting down; send the request to the leader", request->id);
        return;
    }
    if (recovering()) {
        reply_error(envelope, wire::error_unavailable,
                    "this node is recovering: it re-applies its log (applied " +
                        std::to_string(storage_->applied_index()) + " of " +
                        std::to_string(recovering_to_) + ") and serves only status; ask another "
                        "node",
                    request->id);
        return;
    }
    if (requests_pending() >= config_.pending_requests_max) {
        ++requests_overloaded_;
        reply_error(envelope, wire::error_overloaded,
                    "this node holds " + std::to_string(requests_pending()) +
                        " requests, its limit; back off and retry",
                    request->id);
        return;
    }
    const Clock::time_point received = envelope.received;
    inbox_.push_back(Inbound{std::move(envelope), std::move(body), std::move(*request),
                             received});
}

// Serves the inbox in arrival order, within the turn's budget. A request
// that waited past its timeout is dropped unanswered: its client gave up,
// and serving it would only delay the requests behind it.
void Node::serve_inbox() {
    const Clock::time_point start = Clock::now();
    for (std::size_t served = 0; !inbox_.empty() && served < serve_per_turn_max; ++served) {
        const Clock::time_point now = Clock::now();
        if (now - start > serve_time_per_turn_max) break;
        Inbound inbound = std::move(inbox_.front());
        inbox_.pop_front();
        if (now - inbound.received > timeout_of(inbound.request)) {
            ++requests_expired_;
            continue;
        }
        dispatch(std::move(inbound));
    }
}

void Node::dispatch(Inbound inbound) {
    const bool forwarded = is_forwarded(inbound.envelope);
    const zmq::message_t body = std::move(inbound.body);
    const Clock::time_point deadline = inbound.received + timeout_of(inbound.request);
    Pending pending{std::move(inbound.envelope), std::move(inbound.request), deadline};
    pending.wait_end = inbound.received + std::chrono::milliseconds(pending.request.wait_ms);
    switch (pending.request.op) {
    case wire::Op::watch_from: serve_watch(pending); return;
    case wire::Op::snapshot_read: serve_snapshot_read(pending); return;
    case wire::Op::member_list: serve_member_list(pending); return;
    case wire::Op::member_add:
    case wire::Op::member_promote:
    case wire::Op::member_remove: start_change(std::move(pending), body, forwarded); return;
    case wire::Op::transfer_leader: start_transfer(std::move(pending), body, forwarded); return;
    case wire::Op::get:
    case wire::Op::range:
        if (pending.request.consistency == wire::Consistency::serializable) {
            serve_read(pending);
        } else {
            start_read(std::move(pending), body, forwarded);
        }
        return;
    case wire::Op::lease_info:
    case wire::Op::lease_list: start_read(std::move(pending), body, forwarded); return;
    default:
        if (is_write(pending.request)) {
            start_write(std::move(pending), body, forwarded);
        } else {
            start_read(std::move(pending), body, forwarded);  // a read-only txn
        }
        return;
    }
}

// O(1) whatever the data size (the state hash is kept incrementally).
void Node::answer_status(const Envelope& envelope, const wire::ClientRequest& request) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = storage_->applied_index();
    reply.status = node_status(true);
    reply.id = request.id;
    this->reply(envelope, std::move(reply));
}

void Node::start_write(Pending pending, const zmq::message_t& body, bool forwarded) {
    if (cycle_.stalled()) {
        reply_error(pending.envelope, wire::error_storage_full,
                    "this node cannot write to its disk; writes are refused", pending.request.id);
        return;
    }
    if (auto refused = quota_refusal(pending.request)) {
        reply_error(pending.envelope, wire::error_quota_exceeded, std::move(*refused),
                    pending.request.id);
        return;
    }
    raft::ProposeResult proposed = propose(pending.request);
    if (proposed.status == Status::not_leader) {
        refuse_not_leader(pending, forwarded, body);
        return;
    }
    ++(proposed.status == Status::ok ? metrics_.proposals_ok : metrics_.proposals_failed);
    if (proposed.status == Status::dropped && raft_.transfer_target() != raft::node_none) {
        // Leadership is being handed over (for a few ms): the write waits
        // and then goes to whoever leads (retry_held_writes).
        held_writes_.push_back({std::move(pending), to_string(body), forwarded});
        return;
    }
    if (proposed.status != Status::ok) {
        reply_error(pending.envelope, wire::error_unavailable,
                    "the leader is not taking writes right now (transfer or backlog); retry",
                    pending.request.id);
        return;
    }
    track_write(proposed, std::move(pending));
}

// A proposed entry's request, answered once the entry is applied.
void Node::track_write(const raft::ProposeResult& proposed, Pending pending) {
    auto old = writes_.find(proposed.index);
    if (old != writes_.end()) {
        // Our earlier proposal at this index was truncated away.
        answer_lost_entry(old->second);
        writes_.erase(old);
    }
    pending.term = proposed.term;
    writes_.emplace(proposed.index, std::move(pending));
}

// The entry proposed for this request lost its index to another leader's.
// Usually nothing was done; but a wait_cancel is proposed after the waiting
// request's own entry committed: that one's outcome is unknown. (Found by
// the fault checkers: a lock answered `unavailable` was later granted.)
void Node::answer_lost_entry(const Pending& pending) {
    if (pending.cancelling) {
        reply_error(pending.envelope, wire::error_timeout,
                    "the wait ended but leadership changed before the waiter could be taken out "
                    "of the queue: the lock may still be granted to the lease; send the same "
                    "request again (it keeps its place) or unlock by name and lease",
                    pending.request.id);
        return;
    }
    reply_error(pending.envelope, wire::error_unavailable,
                "leadership changed before the write committed; it was not applied",
                pending.request.id);
}

// Writes held while leadership was handed over: once the handover ended
// (either way), each is proposed again, or forwarded to the new leader.
// Past its deadline a held write is answered `timeout`: it was never
// proposed, so it is safe to retry.
void Node::retry_held_writes(Clock::time_point now) {
    if (held_writes_.empty() || cycle_.stalled()) return;
    // Held on while the handover is under way, and after it until this node
    // knows the new leader (its first append comes a few ms after it won):
    // answered `no_leader` meanwhile, clients back off for 20 ms or more.
    const bool transferring = (raft_.role() == raft::Role::leader &&
                               raft_.transfer_target() != raft::node_none) ||
                              (raft_.role() != raft::Role::leader &&
                               raft_.leader() == raft::node_none);
    std::vector<HeldWrite> held = std::move(held_writes_);
    held_writes_.clear();
    for (HeldWrite& h : held) {
        if (h.pending.deadline <= now) {
            reply_error(h.pending.envelope, wire::error_timeout,
                        "leadership was being handed over; the write was not made; retry",
                        h.pending.request.id);
        } else if (transferring) {
            held_writes_.push_back(std::move(h));
        } else {
            const zmq::message_t body(h.body.data(), h.body.size());
            start_write(std::move(h.pending), body, h.forwarded);
        }
    }
}

// A write request as the replicated command (shared by the ROUTER and PULL paths).
raft::ProposeResult Node::propose(const wire::ClientRequest& r) {
    wire::Command command;
    command.op = r.op;
    command.key = r.delete_prefix ? r.prefix : r.key;
    command.value = r.value.value_or(std::string());
    command.expected = r.expected;
    command.mod_revision = r.mod_revision;
    command.session = r.session;
    command.seq = r.seq;
    command.lease = r.lease;
    command.prev = r.prev;
    command.prefix = r.delete_prefix;
    command.ttl_ms = r.ttl_ms;
    command.txn = r.txn;
    command.name = r.name;
    command.wait = wire::is_waiting_op(r.op) && r.wait_ms > 0;
    command.token = r.token;
    command.item = r.item;
    if (r.op == wire::Op::queue_ack) command.lease = r.receipt;
    if (r.op == wire::Op::queue_get) command.ttl_ms = r.visibility_ms;
    if (r.op == wire::Op::queue_put) {
        command.items_max = config_.queue_items_max;
        command.bytes_max = config_.queue_bytes_max;
    }
    return raft_.propose(wire::encode_command(command));
}

void Node::start_read(Pending pending, const zmq::message_t& body, bool forwarded) {
    if (cycle_.stalled()) {
        // The core holds an unfinished Ready: it may not be asked anything.
        // A healthy leader can still answer. (Found by the storage-failure
        // fault test: read_index() here aborted the node.)
        if (raft_.leader() == config_.id) {
            reply_error(pending.envelope, wire::error_unavailable,
                        "this node cannot write to its disk; retry at another node",
                        pending.request.id);
            return;
        }
        refuse_not_leader(pending, forwarded, body);
        return;
    }
    const std::uint64_t id = next_read_id_++;
    raft::ReadIndexResult result = raft_.read_index(raft::ReadContext{id});
    if (result.status == Status::not_leader) {
        refuse_not_leader(pending, forwarded, body);
    } else if (result.status != Status::ok) {
        reply_error(pending.envelope, wire::error_unavailable, "too many reads pending; retry",
                    pending.request.id);
    } else {
        reads_.emplace(id, std::move(pending));
    }
}

void Node::refuse_not_leader(const Pending& pending, bool forwarded, const zmq::message_t& body) {
    const Envelope& envelope = pending.envelope;
    const std::string& id = pending.request.id;
    const raft::NodeId leader = raft_.leader();
    if (!forwarded && leader != raft::node_none && leader != config_.id) {
        if (forward(envelope, id, body, pending.deadline)) return;
        reply_error(envelope, wire::error_unavailable, "the leader cannot be reached; retry", id);
        return;
    }
    if (forwarded && leader != raft::node_none && leader != config_.id) {
        // Forwarded to us as leader, but leadership has moved on: the
        // client may go to `leader` at once.
        reply_error(envelope, wire::error_unavailable, "leadership moved; send it to the leader",
                    id);
        return;
    }
    reply_error(envelope, wire::error_no_leader, "no leader is known right now; retry", id);
}

void Node::serve_read(const Pending& pending) {
    const wire::ClientRequest& r = pending.request;
    if (r.op == wire::Op::lease_info || r.op == wire::Op::lease_list) {
        serve_lease_read(pending);
        return;
    }
    if (r.op == wire::Op::txn) {
        serve_txn_read(pending);
        return;
    }
    if (r.op == wire::Op::leader || r.op == wire::Op::queue_len || r.op == wire::Op::queue_peek) {
        serve_coord_read(pending);
        return;
    }
    wire::ClientReply reply;
    reply.ok = true;
    reply.id = r.id;
    if (r.op == wire::Op::get) {
        reply.revision = storage_->applied_index();
        std::optional<storage::StoredValue> entry = storage_->get_entry(r.key);
        if (entry) {
            reply.meta = to_wire(entry->meta);
            reply.value = std::move(entry->value);
        } else {
            reply.value = std::optional<std::string>();
        }
    } else {
        // PROTOCOL.md: pairs stop once they pass range_reply_bytes_max;
        // storage reads no more than that.
        storage::RangeResult result =
            storage_->range(r.prefix, r.limit, wire::range_reply_bytes_max);
        reply.revision = result.applied_index;
        reply.range = to_page(std::move(result));
    }
    this->reply(pending.envelope, std::move(reply));
}

// Served from this node's event history: a consistent prefix of the one
// history every node applies. The reply covers every matching event up to
// `revision`; the watcher continues from revision + 1.
void Node::serve_watch(const Pending& pending) {
    const wire::ClientRequest& r = pending.request;
    const raft::LogIndex compacted = storage_->events_compacted_through();
    if (r.from <= compacted) {
        wire::ClientReply refused = wire::make_error_reply(
            wire::error_compacted,
            "events up to revision " + std::to_string(compacted) +
                " are no longer kept; read the prefix with range and watch from its revision + 1",
            r.id);
        refused.revision = storage_->applied_index();
        reply(pending.envelope, std::move(refused));
        return;
    }
    storage::EventsResult found =
        storage_->events(r.from, r.prefix, r.limit, wire::range_reply_bytes_max, watch_scan_max);
    wire::ClientReply reply;
    reply.ok = true;
    reply.id = r.id;
    reply.more = found.more;
    reply.revision = found.more ? found.scanned_through : found.applied_index;
    reply.events.emplace();
    for (const auto& [index, bytes] : found.events) {
        auto event = wire::decode_event(bytes.data(), bytes.size());
        CABILDO_ASSERT(event.ok(), "a stored event does not decode");
        reply.events->push_back(std::move(*event));
    }
    this->reply(pending.envelope, std::move(reply));
}

void Node::reply(const Envelope& envelope, wire::ClientReply reply) {
    note_answer(envelope, reply.ok ? std::string_view("ok") : std::string_view(reply.error));
    reply.leader = leader_endpoint();
    if (is_forwarded(envelope)) {
        queue_forward_reply(envelope, wire::encode_reply(reply));
    } else {
        send_frames(clients_, envelope, wire::encode_reply(reply));
    }
}

void Node::reply_error(const Envelope& envelope, std::string_view code, std::string message,
                       std::string id) {
    reply(envelope, wire::make_error_reply(code, std::move(message), std::move(id)));
}

void Node::expire_requests(Clock::time_point now) {
    // Timeouts are in seconds: scanning every pending request once per
    // 10 ms is plenty, and keeps the scan off most loop turns.
    if (now < next_expire_) return;
    next_expire_ = now + std::chrono::milliseconds(10);
    const auto expire = [&](auto& pending_map, std::string_view message) {
        for (auto it = pending_map.begin(); it != pending_map.end();) {
            if (it->second.deadline > now) {
                ++it;
                continue;
            }
            reply_error(it->second.envelope, wire::error_timeout, std::string(message),
                        it->second.request.id);
            it = pending_map.erase(it);
        }
    };
    expire(writes_, "the write did not commit in time; its outcome is unknown (retry with the "
                    "same session and seq)");
    expire(reads_, "the read could not be confirmed in time; retry");
    expire(reads_ready_, "the read could not be served in time; retry");
    expire_waits(now);
    for (auto it = forwards_.begin(); it != forwards_.end();) {
        if (it->second.deadline > now) {
            ++it;
            continue;
        }
        reply_error(it->second.envelope, wire::error_timeout,
                    "the leader did not answer in time; the outcome is unknown", it->second.id);
        it = forwards_.erase(it);
    }
}

void Node::handle_push(const zmq::message_t& body) {
    auto request = wire::decode_request(body.data(), body.size());
    // A request that waits needs someone to answer when the wait ends.
    const bool waits = request && wire::is_waiting_op(request->op) && request->wait_ms > 0;
    if (request && !waits) {
        // A follower's PUSH passes its clients' writes on; anyone else's are checked.
        if (auto denied = security_.admit(body, *request, Clock::now())) return;
    }
    if (!request || !is_write(*request) || waits) {
        if (worth_logging(++bad_requests_)) {
            spdlog::warn("pull: dropped request #{}: {}", bad_requests_,
                         !request ? request.error().detail
                         : waits  ? "a request with wait_ms needs a reply (use REQ)"
                                  : "not a write");
        }
        return;
    }
    if (cycle_.stalled() || quota_refusal(*request)) return;  // a PUSH gets no answer
    metrics_.rates.wrote();
    raft::ProposeResult proposed = propose(*request);
    if (proposed.status == Status::ok) ++metrics_.proposals_ok;
    if (proposed.status != Status::not_leader || proposed.leader == raft::node_none) return;
    // Fire-and-forget all the way: a follower passes it to the leader's PULL.
    auto push = forward_pushes_.find(proposed.leader);
    if (push == forward_pushes_.end()) return;  // its address is not known
    const std::string_view bytes(static_cast<const char*>(body.data()), body.size());
    (void)push->second.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
}

}  // namespace cabildo::node
