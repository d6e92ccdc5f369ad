// KvStateMachine: locks and elections (state_machine.h), both a "mutex": a
// FIFO of waiter keys under <base>\0, one per lease, the first of which
// holds; and the holder's record <base>, whose create_revision is the
// holder's fencing token (wire/coord.h, PROTOCOL.md "Coordination").
//
// Any change to a mutex's waiters in an entry (a lock, an unlock, a lease
// that ends) touches it; at the end of the entry settle_mutexes() makes the
// record follow the first waiter. So a grant happens once per entry and
// name, at the entry's revision, whatever else the entry did: tokens of a
// name strictly increase, and a waiter granted and removed within one entry
// is never told it held.
#include "node/state_machine.h"

#include "node/kv_reads.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

wire::MutexKind kind_of(wire::Op op) {
    return op == wire::Op::lock || op == wire::Op::unlock ? wire::MutexKind::lock
                                                          : wire::MutexKind::election;
}

wire::ClientReply mutex_reply(raft::LogIndex index, bool granted) {
    wire::ClientReply reply = ok_reply(index);
    reply.succeeded = granted;
    return reply;
}

}  // namespace

std::optional<std::string> KvStateMachine::first_waiter(std::string_view base, Effects& fx) {
    storage::RangeResult first =
        fx.txn->range(wire::waiter_prefix(base), 1, SIZE_MAX, /*keys_only=*/true);
    if (first.kvs.empty()) return std::nullopt;
    return std::move(first.kvs.front().first);
}

void KvStateMachine::touch_mutex(std::string_view base, Effects& fx) {
    if (fx.mutexes_touched.contains(std::string(base))) return;
    fx.mutexes_touched.emplace(std::string(base), first_waiter(base, fx));
}

void KvStateMachine::settle_mutexes(Effects& fx) {
    for (const auto& [base, before] : fx.mutexes_touched) {
        const std::optional<std::string> now = first_waiter(base, fx);
        if (now == before) continue;
        // A new holder, or none: the record is made anew, so its
        // create_revision is this entry's revision, the new token.
        erase_plain(base, fx);
        if (!now) continue;
        const std::optional<storage::StoredValue> waiter = fx.txn->get_entry(*now);
        (void)write_key(base, waiter ? waiter->value : std::string(), 0, fx);
        fx.wakes.push_back(Wake{Wake::Kind::granted, *now, fx.index});
    }
    fx.mutexes_touched.clear();
}

// lock and campaign.
wire::ClientReply KvStateMachine::run_lock(const wire::Command& command, Effects& fx) {
    if (auto refused = check_lease(command.lease, 0, fx)) return *refused;  // it must exist
    const std::string base = wire::mutex_base(kind_of(command.op), command.name);
    const std::optional<std::string> holder = first_waiter(base, fx);
    const std::optional<std::string> mine =
        fx.txn->lease_key_with_prefix(command.lease, wire::waiter_prefix(base));
    wire::ClientReply reply = mutex_reply(fx.index, false);
    if (mine) {
        // This lease holds or waits already (a retry, or a second request).
        reply.key = *mine;
        if (mine == holder) {
            reply.succeeded = true;
            const std::optional<storage::KeyMeta> record = fx.txn->get_meta(base);
            reply.token = record ? record->create_revision : 0;
        }
        return reply;
    }
    if (holder && !command.wait) return reply;  // a try-lock of a held mutex
    if (auto refused = check_lease(command.lease, 1, fx)) return *refused;
    touch_mutex(base, fx);
    const std::string key = wire::waiter_key(base, fx.index);
    const Status status = write_key(key, command.value, command.lease, fx);
    if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "lock", {});
    reply.key = key;
    if (!holder) {
        reply.succeeded = true;  // settle_mutexes() writes the record at this revision
        reply.token = fx.index;
    }
    return reply;
}

// unlock and resign: by waiter key, by name and lease, or by name and token.
wire::ClientReply KvStateMachine::run_unlock(const wire::Command& command, Effects& fx) {
    std::optional<std::string> key;
    if (command.name.empty()) {
        key = command.key;
    } else {
        const std::string base = wire::mutex_base(kind_of(command.op), command.name);
        if (command.token != 0) {
            const std::optional<storage::KeyMeta> record = fx.txn->get_meta(base);
            if (record && record->create_revision == command.token) key = first_waiter(base, fx);
        } else {
            key = fx.txn->lease_key_with_prefix(command.lease, wire::waiter_prefix(base));
        }
    }
    std::optional<storage::KeyMeta> meta;
    if (key) meta = fx.txn->get_meta(*key);
    if (!meta || (command.lease != 0 && meta->lease != command.lease)) {
        return mutex_reply(fx.index, false);
    }
    erase_present(*key, meta->lease, fx);
    return mutex_reply(fx.index, true);
}

wire::ClientReply KvStateMachine::run_proclaim(const wire::Command& command, Effects& fx) {
    const std::string base = wire::mutex_base(wire::MutexKind::election, command.name);
    const std::optional<std::string> holder = first_waiter(base, fx);
    const std::optional<std::string> mine =
        fx.txn->lease_key_with_prefix(command.lease, wire::waiter_prefix(base));
    if (!mine || mine != holder) return mutex_reply(fx.index, false);
    Status status = write_key(*mine, command.value, command.lease, fx);
    if (status == Status::ok) status = write_key(base, command.value, 0, fx);  // keeps its token
    if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "proclaim", {});
    wire::ClientReply reply = mutex_reply(fx.index, true);
    reply.key = *mine;
    const std::optional<storage::KeyMeta> record = fx.txn->get_meta(base);
    reply.token = record ? record->create_revision : 0;
    return reply;
}

// A waiting request's time is up (its node proposes this): the waiter
// leaves the queue unless it was granted first, and the answer says which.
wire::ClientReply KvStateMachine::run_wait_cancel(const wire::Command& command, Effects& fx) {
    const std::optional<std::string> base = wire::waiter_base(command.key);
    const std::optional<storage::KeyMeta> meta =
        base ? fx.txn->get_meta(command.key) : std::nullopt;
    if (!meta) {
        return wire::make_error_reply(wire::error_not_found,
                                      "the waiter is gone: its lease ended (or it was unlocked "
                                      "by key) while it waited",
                                      {});
    }
    wire::ClientReply reply = mutex_reply(fx.index, false);
    reply.key = command.key;
    if (first_waiter(*base, fx) == command.key) {
        reply.succeeded = true;
        const std::optional<storage::KeyMeta> record = fx.txn->get_meta(*base);
        reply.token = record ? record->create_revision : 0;
        return reply;
    }
    erase_present(command.key, meta->lease, fx);
    return reply;
}

}  // namespace cabildo::node
