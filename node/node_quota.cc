// Node: the storage quota (--quota-bytes), like etcd's --quota-backend-bytes.
//
// The leader refuses a write that can grow the applied state while the
// client data there (Storage::state_bytes) is at or over the quota, with
// `quota_exceeded`; writes that only shrink or hold the state (deletes,
// lease_revoke and keepalive, queue_get and queue_ack, unlock, resign) still
// go through, so clients can always get back under it, and writes resume by
// themselves once they have. The check is made only here, when the leader
// proposes: an entry already in the log is applied whatever the size, so
// every node's state stays the same function of the log. Not a hard cap:
// the writes in flight when the quota is reached still land (a bounded
// overshoot, at most the pending writes' bytes).
#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

bool puts_any(const std::vector<wire::TxnOp>& ops) {
    for (const wire::TxnOp& op : ops) {
        if (op.op == wire::Op::put) return true;
    }
    return false;
}

// Whether applying this write may take more bytes than the state holds now.
// Listed are the ones that cannot; any other write op (one added later
// included, until it is listed) counts as growing: fail closed.
bool can_grow_state(const wire::ClientRequest& request) {
    switch (request.op) {
    case wire::Op::del:
    case wire::Op::lease_keepalive:  // rewrites its record at the same size
    case wire::Op::lease_revoke:
    case wire::Op::unlock:
    case wire::Op::resign:
    case wire::Op::queue_ack:
    case wire::Op::wait_cancel:
    // Moves an item to in flight and gives it a receipt lease: a few bytes,
    // bounded by the items there are, and the way to a queue_ack that
    // frees the item; refusing it would keep a full queue full.
    case wire::Op::queue_get: return false;
    case wire::Op::txn: return puts_any(request.txn->success) || puts_any(request.txn->failure);
    default: return true;
    }
}

}  // namespace

std::optional<std::string> Node::quota_refusal(const wire::ClientRequest& request) const {
    // A follower passes the write on: the leader's state and quota decide.
    if (config_.quota_bytes == 0 || raft_.role() != raft::Role::leader) return std::nullopt;
    if (!can_grow_state(request)) return std::nullopt;
    const std::uint64_t state_bytes = storage_->state_bytes();
    if (state_bytes < config_.quota_bytes) return std::nullopt;
    if (request.session != 0) {
        // A retry of a write already applied (or an older one) gets its
        // session's answer, as without a quota: exactly-once must not
        // report `quota_exceeded` for a write that was made.
        const auto record = storage_->session(request.session);
        if (record && request.seq <= record->seq) return std::nullopt;
    }
    return "the applied state holds " + std::to_string(state_bytes) +
           " bytes of keys, values and leases, at or over the quota of " +
           std::to_string(config_.quota_bytes) +
           " bytes (--quota-bytes); writes that can grow it are refused until deletes "
           "(delete, delete by prefix, lease_revoke, queue_ack) bring it under, or the nodes "
           "restart with a higher --quota-bytes";
}

}  // namespace cabildo::node
