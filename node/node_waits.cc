// Node: requests that wait (PROTOCOL.md "Coordination", "Waiting").
//
// A lock or campaign that finds its mutex held joins the waiters in the
// replicated state (its waiter key), and its request is held here by that
// key. The entry that grants it, or removes the waiter (its lease ended),
// wakes it on whichever node holds it, leader or not: every node applies
// every entry. When its wait ends, the node proposes wait_cancel and answers
// what that entry decides: granted after all, or out of the queue; with
// `keep` it answers "not yet" and the waiter stays queued.
//
// A queue_get that found its queue empty is held here by queue, in arrival
// order; it is not in the replicated state. Each item that becomes ready
// wakes the first held get only (no thundering herd), which is proposed
// again next turn, without its session (the session keeps its first, empty,
// answer). When its wait ends it is answered empty.
#include <spdlog/spdlog.h>

#include "node/kv_reads.h"
#include "node/node.h"
#include "wire/command.h"
#include "wire/coord.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

// ok, at the revision: granted (with the token), or not (yet), with the
// waiter key if the lease is still queued.
wire::ClientReply wait_reply(bool granted, std::optional<std::string> key,
                             std::uint64_t token, raft::LogIndex revision) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = revision;
    reply.succeeded = granted;
    if (granted) reply.token = token;
    reply.key = std::move(key);
    return reply;
}

constexpr std::string_view waiter_gone =
    "the lease ended (revoked or expired), or the waiter was unlocked by key, while the request "
    "waited; nothing is held";

}  // namespace

// O(1): requests_pending() asks on every request received.
std::size_t Node::waits_held() const {
    return mutex_waits_.size() + queue_woken_.size() + queue_waits_held_;
}

Node::Pending Node::take_queue_wait(std::map<std::string, std::deque<Pending>>::iterator it) {
    Pending pending = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) queue_waits_.erase(it);
    --queue_waits_held_;
    return pending;
}

// From answer_write: a waiting op whose entry did not grant (or deliver)
// is held instead of answered. False if it is to be answered now.
bool Node::hold_if_waiting(Pending& pending, const Applied& applied) {
    const wire::ClientRequest& r = pending.request;
    const wire::ClientReply& reply = applied.reply;
    if (!wire::is_waiting_op(r.op) || r.wait_ms == 0 || pending.cancelling) return false;
    if (!reply.ok || reply.succeeded.value_or(true)) return false;
    if (r.op == wire::Op::queue_get) {
        hold_queue_wait(std::move(pending));
        return true;
    }
    if (!reply.key) return false;
    hold_mutex_wait(std::move(pending), *reply.key);
    return true;
}

// The entry's answer may be older than the state (a retry answered from its
// session, or later entries of the same batch): the state decides.
void Node::hold_mutex_wait(Pending pending, const std::string& key) {
    const std::string base = wire::waiter_base(key).value_or(std::string());
    const raft::LogIndex applied = storage_->applied_index();
    if (!storage_->get_entry(key)) {
        reply_error(pending.envelope, wire::error_not_found, std::string(waiter_gone),
                    pending.request.id);
        return;
    }
    const storage::RangeResult first = storage_->range(wire::waiter_prefix(base), 1);
    if (!first.kvs.empty() && first.kvs.front().first == key) {
        const std::optional<storage::StoredValue> record = storage_->get_entry(base);
        wire::ClientReply reply =
            wait_reply(true, key, record ? record->meta.create_revision : 0, applied);
        reply.id = pending.request.id;
        this->reply(pending.envelope, std::move(reply));
        return;
    }
    auto [it, added] = mutex_waits_.try_emplace(key);
    if (!added) {
        // Two requests wait for one lease: the newer waits on, the older is
        // told the truth, not granted yet and still queued (as `keep` is).
        wire::ClientReply reply = wait_reply(false, key, 0, applied);
        reply.id = it->second.request.id;
        this->reply(it->second.envelope, std::move(reply));
    }
    it->second = std::move(pending);
}

void Node::hold_queue_wait(Pending pending) {
    const std::string name = pending.request.name;
    auto it = queue_waits_.try_emplace(name).first;
    it->second.push_back(std::move(pending));
    ++queue_waits_held_;
    // An item may have become ready after this get's entry, in the same batch.
    if (!storage_->range(wire::ready_prefix(wire::queue_base(name)), 1).kvs.empty()) {
        queue_woken_.push_back(take_queue_wait(it));
    }
}

void Node::note_wakes(const Applied& applied) {
    for (const Wake& wake : applied.wakes) {
        auto it = mutex_waits_.find(wake.key);
        if (it == mutex_waits_.end()) continue;
        if (wake.kind == Wake::Kind::granted) {
            wire::ClientReply reply = wait_reply(true, wake.key, wake.token, applied.index);
            reply.id = it->second.request.id;
            this->reply(it->second.envelope, std::move(reply));
        } else {
            reply_error(it->second.envelope, wire::error_not_found, std::string(waiter_gone),
                        it->second.request.id);
        }
        mutex_waits_.erase(it);
    }
    for (const QueueReady& ready : applied.queue_ready) {
        auto it = queue_waits_.find(ready.queue);
        if (it != queue_waits_.end()) queue_woken_.push_back(take_queue_wait(it));
    }
}

// NOTIFY: each item that became ready, on topic q/<queue>.
void Node::publish_queue_ready(const Applied& applied) {
    for (const QueueReady& ready : applied.queue_ready) {
        send_frames(pub_, {wire::queue_topic(ready.queue)},
                    wire::encode_queue_notice(ready.queue, ready.item, applied.index));
    }
}

// Woken gets are proposed again (outside the Ready cycle's apply step).
// One that is no longer at the leader is answered as a forwarded request
// would be: `unavailable` with the leader's address, nothing delivered.
void Node::resume_queue_waits() {
    std::vector<Pending> woken = std::move(queue_woken_);
    queue_woken_.clear();
    for (Pending& pending : woken) {
        pending.request.session = 0;
        pending.request.seq = 0;
        start_write(std::move(pending), zmq::message_t(), /*forwarded=*/true);
    }
}

void Node::expire_waits(Clock::time_point now) {
    for (auto it = mutex_waits_.begin(); it != mutex_waits_.end();) {
        Pending& pending = it->second;
        if (pending.wait_end <= now && pending.request.keep) {
            // It keeps its place: not granted yet, still queued.
            wire::ClientReply reply = wait_reply(false, it->first, 0, storage_->applied_index());
            reply.id = pending.request.id;
            this->reply(pending.envelope, std::move(reply));
            it = mutex_waits_.erase(it);
            continue;
        }
        if (pending.wait_end > now || cycle_.stalled()) {
            ++it;
            continue;
        }
        wire::Command cancel;
        cancel.op = wire::Op::wait_cancel;
        cancel.key = it->first;
        const raft::ProposeResult proposed = raft_.propose(wire::encode_command(cancel));
        if (proposed.status == Status::ok) {
            pending.cancelling = true;
            track_write(proposed, std::move(pending));
        } else if (proposed.status == Status::not_leader || pending.deadline <= now) {
            // Only the leader can take the waiter out of the queue.
            reply_error(pending.envelope, wire::error_timeout,
                        "the wait ended where the waiter could not be taken out of the queue "
                        "(leadership moved): the lock may still be granted to the lease; send "
                        "the same request again (it keeps its place) or unlock by name and lease",
                        pending.request.id);
        } else {
            ++it;  // the leader is busy: again in 10 ms
            continue;
        }
        it = mutex_waits_.erase(it);
    }
    for (auto it = queue_waits_.begin(); it != queue_waits_.end();) {
        std::deque<Pending>& waits = it->second;
        // Arrival order is not deadline order (wait_ms differ): scan them all.
        for (auto w = waits.begin(); w != waits.end();) {
            if (w->wait_end > now) {
                ++w;
                continue;
            }
            wire::ClientReply reply = wait_reply(false, std::nullopt, 0, storage_->applied_index());
            reply.id = w->request.id;
            this->reply(w->envelope, std::move(reply));
            w = waits.erase(w);
            --queue_waits_held_;
        }
        it = waits.empty() ? queue_waits_.erase(it) : std::next(it);
    }
}

// leader, queue_len and queue_peek, at a confirmed read index.
void Node::serve_coord_read(const Pending& pending) {
    const wire::ClientRequest& r = pending.request;
    wire::ClientReply reply;
    reply.ok = true;
    reply.id = r.id;
    reply.revision = storage_->applied_index();
    if (r.op == wire::Op::leader) {
        const std::string base = wire::mutex_base(wire::MutexKind::election, r.name);
        std::optional<storage::StoredValue> record = storage_->get_entry(base);
        reply.value = std::optional<std::string>();
        if (record) {
            reply.value = std::move(record->value);
            reply.token = record->meta.create_revision;
            storage::RangeResult first = storage_->range(wire::waiter_prefix(base), 1);
            if (!first.kvs.empty()) reply.key = std::move(first.kvs.front().first);
        }
    } else if (r.op == wire::Op::queue_len) {
        const std::optional<std::string> meta = storage_->get(wire::queue_base(r.name));
        const wire::QueueMeta m = meta ? wire::decode_queue_meta(*meta) : wire::QueueMeta{};
        reply.queue_length = wire::QueueLength{m.items, m.in_flight, m.bytes};
    } else {
        storage::RangeResult head =
            storage_->range(wire::ready_prefix(wire::queue_base(r.name)), 1);
        reply.succeeded = !head.kvs.empty();
        reply.value = std::optional<std::string>();
        if (!head.kvs.empty()) {
            reply.item = wire::item_of(head.kvs.front().first);
            reply.value = std::move(head.kvs.front().second);
        }
    }
    this->reply(pending.envelope, std::move(reply));
}

}  // namespace cabildo::node
