// Node: leases. Every node times the leases it applies (LeaseClock); the
// leader proposes the expiry of those due, a bounded batch at a time, so a
// mass expiry is spread out and client writes keep flowing between batches.
#include <spdlog/spdlog.h>

#include "node/kv_reads.h"
#include "node/node.h"
#include "wire/command.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

// One lease_expire command per check at most, every lease_check: 256 leases
// per 10 ms, 25,600 a second, each command one entry of bounded work.
constexpr auto lease_check = std::chrono::milliseconds(10);
// An expiry proposed but not applied (lost with a leadership change) is
// proposed again after this.
constexpr auto expire_retry = std::chrono::seconds(2);

}  // namespace

// At start and after a snapshot replaced the state: every lease gets its
// full TTL from now. Nothing older can be trusted (this node's clock did
// not see the renewals), and a lease must not expire early.
void Node::load_lease_clock() {
    lease_clock_.clear();
    const Clock::time_point now = Clock::now();
    bool more = true;
    std::uint64_t from = 0;
    while (more) {
        auto page = storage_->leases(from, 10000, &more);
        for (const auto& [id, record] : page) lease_clock_.renew(id, record.renewed, record.ttl_ms, now);
        if (!page.empty()) from = page.back().first + 1;
    }
    if (lease_clock_.size() > 0) {
        spdlog::info("node {}: {} leases, each timed from now", config_.id, lease_clock_.size());
    }
}

void Node::note_lease_changes(const Applied& applied, Clock::time_point now) {
    for (const LeaseChange& change : applied.leases) {
        if (change.ttl_ms == 0) {
            lease_clock_.forget(change.lease);
        } else {
            lease_clock_.renew(change.lease, change.renewed, change.ttl_ms, now);
        }
    }
    if (applied.index == expiry_index_) expiry_index_ = 0;
}

void Node::expire_leases(Clock::time_point now) {
    if (now < next_lease_check_) return;
    next_lease_check_ = now + lease_check;
    if (raft_.role() != raft::Role::leader || cycle_.stalled() || lease_clock_.size() == 0) return;
    if (expiry_index_ != 0 && expiry_term_ == raft_.term() && now - expiry_sent_ < expire_retry) {
        return;  // the last batch is not applied yet
    }
    wire::Command command;
    command.op = wire::Op::lease_expire;
    command.expiries = lease_clock_.take_due(now, wire::lease_expiries_max, expire_retry);
    if (command.expiries.empty()) return;
    const raft::ProposeResult proposed = raft_.propose(wire::encode_command(command));
    if (proposed.status != Status::ok) return;  // due again after expire_retry
    expiry_index_ = proposed.index;
    expiry_term_ = proposed.term;
    expiry_sent_ = now;
}

// lease_info and lease_list, served by the leader (its clock is the one
// that expires leases) once a ReadIndex confirmed it still leads.
void Node::serve_lease_read(const Pending& pending) {
    const wire::ClientRequest& r = pending.request;
    const Clock::time_point now = Clock::now();
    wire::ClientReply reply;
    reply.ok = true;
    reply.id = r.id;
    reply.revision = storage_->applied_index();
    if (r.op == wire::Op::lease_info) {
        const std::optional<storage::LeaseRecord> record = storage_->lease(r.lease);
        if (!record) {
            reply_error(pending.envelope, wire::error_not_found,
                        "lease " + std::to_string(r.lease) + " does not exist", r.id);
            return;
        }
        wire::LeaseInfo info{r.lease, record->ttl_ms, lease_clock_.remaining_ms(r.lease, now),
                             std::nullopt};
        if (r.keys) info.keys = storage_->lease_keys(r.lease, wire::lease_keys_max);
        reply.lease = std::move(info);
    } else {
        bool more = false;
        reply.leases.emplace();
        for (const auto& [id, record] : storage_->leases(r.from, r.limit, &more)) {
            reply.leases->push_back(
                {id, record.ttl_ms, lease_clock_.remaining_ms(id, now), std::nullopt});
        }
        reply.more = more;
    }
    this->reply(pending.envelope, std::move(reply));
}

// A txn without writes: its compares and reads against the applied state,
// at a confirmed read index, like a linearizable get. Storage reads each
// use their own read transaction, but nothing applies between them (one
// loop thread), so they all see one revision.
void Node::serve_txn_read(const Pending& pending) {
    const wire::ClientRequest& r = pending.request;
    const storage::Storage& view = *storage_;
    wire::ClientReply reply;
    reply.ok = true;
    reply.id = r.id;
    reply.revision = storage_->applied_index();
    reply.succeeded = compares_hold(r.txn->compare, view);
    reply.responses.emplace();
    std::size_t budget = wire::range_reply_bytes_max;
    for (const wire::TxnOp& op : *reply.succeeded ? r.txn->success : r.txn->failure) {
        reply.responses->push_back(txn_read(op, view, &budget));
    }
    this->reply(pending.envelope, std::move(reply));
}

}  // namespace cabildo::node
