// KvStateMachine: leases (state_machine.h). Granting, renewing, revoking and
// expiring are commands in the log, so every node holds the same leases and
// deletes the same keys at the same revision; when a lease expires is each
// node's LeaseClock's business, and only the leader's proposes it.
#include "node/state_machine.h"

#include "wire/command.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

wire::ClientReply lease_reply(raft::LogIndex index, std::uint64_t id, std::uint64_t ttl_ms) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = index;
    reply.lease = wire::LeaseInfo{id, ttl_ms, ttl_ms, std::nullopt};
    return reply;
}

wire::ClientReply lease_not_found(std::uint64_t id) {
    return wire::make_error_reply(wire::error_not_found,
                                  "lease " + std::to_string(id) +
                                      " does not exist (never granted, revoked or expired)",
                                  {});
}

}  // namespace

std::optional<wire::ClientReply> KvStateMachine::check_lease(std::uint64_t lease,
                                                             std::uint64_t adding, Effects& fx) {
    if (lease == 0) return std::nullopt;
    const std::optional<storage::LeaseRecord> record = fx.txn->lease(lease);
    if (!record) return lease_not_found(lease);
    if (record->keys + adding > wire::lease_keys_max) {
        return wire::make_error_reply(wire::error_too_large,
                                      "lease " + std::to_string(lease) + " has " +
                                          std::to_string(record->keys) + " keys; the limit is " +
                                          std::to_string(wire::lease_keys_max),
                                      {});
    }
    return std::nullopt;
}

void KvStateMachine::adjust_lease_keys(std::uint64_t lease, std::int64_t delta, Effects& fx) {
    std::optional<storage::LeaseRecord> record = fx.txn->lease(lease);
    if (!record) return;  // a key whose lease is being dropped
    record->keys = static_cast<std::uint64_t>(static_cast<std::int64_t>(record->keys) + delta);
    fx.txn->set_lease(lease, *record);
}

std::uint64_t KvStateMachine::grant_lease(std::uint64_t wanted, std::uint64_t ttl_ms,
                                          Effects& fx) {
    storage::ApplyTxn& txn = *fx.txn;
    // Chosen deterministically: the entry's index, unique unless a client
    // picked it, else one above the highest id.
    std::uint64_t id = wanted;
    if (id == 0) id = txn.lease(fx.index) ? txn.last_lease_id() + 1 : fx.index;
    txn.set_lease(id, storage::LeaseRecord{ttl_ms, fx.index, 0});
    fx.leases.push_back({id, fx.index, ttl_ms});
    return id;
}

wire::ClientReply KvStateMachine::lease_grant(const wire::Command& command, Effects& fx) {
    if (command.lease != 0 && fx.txn->lease(command.lease)) {
        return wire::make_error_reply(wire::error_exists,
                                      "lease " + std::to_string(command.lease) + " already exists",
                                      {});
    }
    const std::uint64_t id = grant_lease(command.lease, command.ttl_ms, fx);
    return lease_reply(fx.index, id, command.ttl_ms);
}

wire::ClientReply KvStateMachine::lease_keepalive(const wire::Command& command, Effects& fx) {
    std::optional<storage::LeaseRecord> record = fx.txn->lease(command.lease);
    if (!record) return lease_not_found(command.lease);
    record->renewed = fx.index;
    fx.txn->set_lease(command.lease, *record);
    fx.leases.push_back({command.lease, fx.index, record->ttl_ms});
    return lease_reply(fx.index, command.lease, record->ttl_ms);
}

wire::ClientReply KvStateMachine::lease_revoke(const wire::Command& command, Effects& fx) {
    if (!fx.txn->lease(command.lease)) return lease_not_found(command.lease);
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = fx.index;
    reply.deleted = drop_lease(command.lease, fx);
    reply.succeeded = true;
    return reply;
}

// The leader judged these leases expired as of their renewal at `renewed`;
// one renewed since (its keepalive committed first) stays.
wire::ClientReply KvStateMachine::lease_expire(const wire::Command& command, Effects& fx) {
    std::uint64_t deleted = 0;
    for (const wire::LeaseExpiry& e : command.expiries) {
        const std::optional<storage::LeaseRecord> record = fx.txn->lease(e.lease);
        if (record && record->renewed == e.renewed) deleted += drop_lease(e.lease, fx);
    }
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = fx.index;
    reply.deleted = deleted;
    return reply;
}

std::uint64_t KvStateMachine::drop_lease(std::uint64_t lease, Effects& fx) {
    storage::ApplyTxn& txn = *fx.txn;
    // At most lease_keys_max: bounded work for one entry.
    const std::vector<std::string> keys = txn.lease_keys(lease, wire::lease_keys_max);
    txn.erase_lease(lease);  // first: adjust_lease_keys then skips it
    for (const std::string& key : keys) erase_present(key, lease, fx);
    fx.leases.push_back({lease, fx.index, 0});
    return keys.size();
}

}  // namespace cabildo::node
