// KvStateMachine; see state_machine.h. Leases and txns are in
// state_machine_leases.cc and state_machine_txn.cc.
#include "node/state_machine.h"

#include "node/kv_reads.h"
#include "wire/command.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

std::optional<wire::PrevValue> to_prev(const std::optional<storage::StoredValue>& old) {
    if (!old) return std::nullopt;
    return wire::PrevValue{old->value, to_wire(old->meta)};
}

}  // namespace

Result<KvStateMachine::Staged> KvStateMachine::stage(std::span<const raft::Entry> entries) {
    auto txn = storage_.begin_apply();
    if (!txn) return txn.error();
    std::vector<Applied> applied;
    applied.reserve(entries.size());
    for (const raft::Entry& entry : entries) {
        Applied a;
        a.index = entry.index;
        a.term = entry.term;
        a.is_command = entry.type == raft::EntryType::normal;
        if (entry.type == raft::EntryType::config) {
            a.membership = raft::decode_membership(entry.data);  // checked when it was received
            if (a.membership) txn->set_membership(*a.membership);
        }
        if (a.is_command) {
            auto command = wire::decode_command(entry.data.data(), entry.data.size());
            if (command) {
                Effects fx{entry.index, &*txn, {}, {}, {}, {}, {}};
                a.reply = execute(*command, fx);
                settle_mutexes(fx);
                for (const wire::Event& event : fx.events) {
                    EventOut out{event.key, wire::encode_event(event)};
                    txn->add_event(entry.index, out.key, out.event);
                    a.events.push_back(std::move(out));
                }
                a.leases = std::move(fx.leases);
                a.wakes = std::move(fx.wakes);
                a.queue_ready = std::move(fx.queue_ready);
            } else {
                // Every node decodes the same bytes the same way, so this is
                // deterministic; it can only mean a bug in whoever proposed it.
                a.reply = wire::make_error_reply(wire::error_internal,
                                                 "undecodable command: " + command.error().detail,
                                                 {});
            }
        }
        applied.push_back(std::move(a));
    }
    if (!entries.empty()) txn->set_applied(entries.back().index, entries.back().term);
    return Staged{std::move(*txn), std::move(applied)};
}

wire::ClientReply KvStateMachine::execute(const wire::Command& command, Effects& fx) {
    storage::ApplyTxn& txn = *fx.txn;
    if (command.session != 0) {
        if (auto record = txn.session(command.session)) {
            if (command.seq == record->seq) {
                auto first = wire::decode_reply(record->reply.data(), record->reply.size());
                if (first) return *first;  // a retry: the first answer again
            } else if (command.seq < record->seq) {
                return wire::make_error_reply(
                    wire::error_stale_session,
                    "seq " + std::to_string(command.seq) + " is older than the session's last (" +
                        std::to_string(record->seq) + ")",
                    {});
            }
        } else if (command.seq > 1) {
            // A session starts at seq 1, so this one was known and has been
            // evicted (past --sessions-max): whether an earlier attempt of
            // this very command was applied can no longer be told. Say so
            // rather than run it; nothing is recorded, so every later write
            // in the session gets this answer too.
            return wire::make_error_reply(
                wire::error_session_expired,
                "session " + std::to_string(command.session) +
                    " is not remembered (sessions are evicted least recently used first past "
                    "the cluster's --sessions-max): this write was not applied now; start a new "
                    "session",
                {});
        }
    }
    wire::ClientReply reply = run(command, fx);
    if (command.session != 0) {
        txn.set_session(command.session, command.seq, fx.index, wire::encode_reply(reply));
    }
    return reply;
}

wire::ClientReply KvStateMachine::run(const wire::Command& command, Effects& fx) {
    switch (command.op) {
    case wire::Op::put: return run_put(command, fx);
    case wire::Op::del: return run_delete(command, fx);
    case wire::Op::cas: return run_cas(command, fx);
    case wire::Op::txn: return run_txn(*command.txn, fx);
    case wire::Op::lease_grant: return lease_grant(command, fx);
    case wire::Op::lease_keepalive: return lease_keepalive(command, fx);
    case wire::Op::lease_revoke: return lease_revoke(command, fx);
    case wire::Op::lease_expire: return lease_expire(command, fx);
    case wire::Op::lock:
    case wire::Op::campaign: return run_lock(command, fx);
    case wire::Op::unlock:
    case wire::Op::resign: return run_unlock(command, fx);
    case wire::Op::proclaim: return run_proclaim(command, fx);
    case wire::Op::wait_cancel: return run_wait_cancel(command, fx);
    case wire::Op::queue_put: return run_queue_put(command, fx);
    case wire::Op::queue_get: return run_queue_get(command, fx);
    case wire::Op::queue_ack: return run_queue_ack(command, fx);
    default: return wire::make_error_reply(wire::error_internal, "not a write operation", {});
    }
}

// 1 if writing key with lease attaches it anew (0 if it is on that lease).
std::uint64_t KvStateMachine::attaching(std::string_view key, std::uint64_t lease, Effects& fx) {
    if (lease == 0) return 0;
    const std::optional<storage::KeyMeta> current = fx.txn->get_meta(key);
    return current && current->lease == lease ? 0 : 1;
}

wire::ClientReply KvStateMachine::run_put(const wire::Command& command, Effects& fx) {
    if (auto refused = check_lease(command.lease, attaching(command.key, command.lease, fx), fx)) {
        return *refused;
    }
    // The old value is read (copied) only for a put that asked for it.
    std::optional<storage::StoredValue> old;
    const Status status = write_key(command.key, command.value, command.lease, fx,
                                    command.prev ? &old : nullptr);
    if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "put", {});
    wire::ClientReply reply = ok_reply(fx.index);
    if (command.prev) reply.prev = to_prev(old);
    return reply;
}

wire::ClientReply KvStateMachine::run_delete(const wire::Command& command, Effects& fx) {
    wire::ClientReply reply = ok_reply(fx.index);
    if (command.prefix) {
        bool more = false;
        reply.deleted = delete_prefix(command.key, fx, &more);
        reply.more = more;
    } else {
        reply.deleted = delete_key(command.key, fx) ? 1 : 0;
    }
    reply.succeeded = *reply.deleted > 0;
    return reply;
}

wire::ClientReply KvStateMachine::run_cas(const wire::Command& command, Effects& fx) {
    const std::optional<storage::StoredValue> current = fx.txn->get_entry(command.key);
    bool match = false;
    if (command.mod_revision) {
        match = current ? current->meta.mod_revision == *command.mod_revision
                        : *command.mod_revision == 0;
    } else {
        const std::optional<std::string>& expected = *command.expected;
        match = expected ? current && current->value == *expected : !current.has_value();
    }
    if (match) {
        const std::uint64_t adding = attaching(command.key, command.lease, fx);
        if (auto refused = check_lease(command.lease, adding, fx)) return *refused;
        const Status status = write_key(command.key, command.value, command.lease, fx);
        if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "cas", {});
    }
    wire::ClientReply reply = ok_reply(fx.index);
    reply.succeeded = match;
    return reply;
}

Status KvStateMachine::write_key(std::string_view key, std::string_view value,
                                 std::uint64_t lease, Effects& fx,
                                 std::optional<storage::StoredValue>* prev) {
    storage::ApplyTxn& txn = *fx.txn;
    // The old value is copied only when the caller wants it back.
    std::optional<storage::StoredValue> old_entry;
    std::optional<storage::KeyMeta> old;
    if (prev != nullptr) {
        old_entry = txn.get_entry(key);
        if (old_entry) old = old_entry->meta;
    } else {
        old = txn.get_meta(key);
    }
    storage::KeyMeta meta{old ? old->create_revision : fx.index, fx.index,
                          old ? old->version + 1 : 1, lease};
    const Status status = txn.put(key, value, meta);
    if (status != Status::ok) return status;
    const std::uint64_t old_lease = old ? old->lease : 0;
    if (old_lease != lease) {
        if (old_lease != 0) {
            txn.detach_key(old_lease, key);
            adjust_lease_keys(old_lease, -1, fx);
        }
        if (lease != 0) {
            txn.attach_key(lease, key);
            adjust_lease_keys(lease, +1, fx);
        }
    }
    fx.events.push_back(wire::Event{fx.index, false, std::string(key), std::string(value),
                                    to_wire(meta)});
    if (prev != nullptr) *prev = std::move(old_entry);
    return Status::ok;
}

bool KvStateMachine::delete_key(std::string_view key, Effects& fx) {
    const std::optional<storage::KeyMeta> old = fx.txn->get_meta(key);
    if (!old) return false;
    erase_present(key, old->lease, fx);
    return true;
}

void KvStateMachine::erase_present(std::string_view key, std::uint64_t lease, Effects& fx) {
    // Coordination keys end with side effects: a waiter that leaves may
    // pass its mutex on; an item in flight goes back to its queue.
    const std::optional<std::string> base = wire::waiter_base(key);
    if (base) {
        touch_mutex(*base, fx);
        fx.wakes.push_back(Wake{Wake::Kind::removed, std::string(key), 0});
    }
    if (wire::parse_in_flight_key(key)) give_back(key, fx);
    if (lease != 0) {
        fx.txn->detach_key(lease, key);
        adjust_lease_keys(lease, -1, fx);
    }
    fx.txn->erase(key);
    fx.events.push_back(wire::Event{fx.index, true, std::string(key), std::nullopt, {}});
}

std::uint64_t KvStateMachine::delete_prefix(std::string_view prefix, Effects& fx, bool* more) {
    // Coordination keys are the primitives' own (a client's prefix delete
    // cannot reach under coord_prefix: decode refuses it; "" passes over it).
    storage::RangeResult found = fx.txn->range(prefix, wire::delete_prefix_max, SIZE_MAX,
                                               /*keys_only=*/true, wire::coord_prefix);
    *more = found.more;
    for (std::size_t i = 0; i < found.kvs.size(); ++i) {
        erase_present(found.kvs[i].first, found.metas[i].lease, fx);
    }
    return found.kvs.size();
}

}  // namespace cabildo::node
