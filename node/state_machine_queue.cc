// KvStateMachine: durable queues (state_machine.h, wire/coord.h). Items
// are keys: ready ones by item number, delivered ones ("in flight")
// attached to their receipt, a lease of visibility_ms granted by the
// queue_get. When a receipt ends without an ack (it expired, or was
// revoked), erase_present() gives the item back, ready in its place.
#include "node/state_machine.h"

#include "node/kv_reads.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

std::string queue_name(std::string_view base) {
    return std::string(base.substr(wire::queue_base("").size()));
}

}  // namespace

wire::QueueMeta KvStateMachine::queue_meta(std::string_view base, Effects& fx) {
    const std::optional<std::string> stored = fx.txn->get(base);
    return stored ? wire::decode_queue_meta(*stored) : wire::QueueMeta{};
}

void KvStateMachine::write_queue_meta(std::string_view base, const wire::QueueMeta& meta,
                                      Effects& fx) {
    (void)write_key(base, wire::encode_queue_meta(meta), 0, fx);
}

void KvStateMachine::erase_plain(std::string_view key, Effects& fx) {
    if (!fx.txn->erase(key)) return;
    fx.events.push_back(wire::Event{fx.index, true, std::string(key), std::nullopt, {}});
}

wire::ClientReply KvStateMachine::run_queue_put(const wire::Command& command, Effects& fx) {
    const std::string base = wire::queue_base(command.name);
    wire::QueueMeta meta = queue_meta(base, fx);
    const std::uint64_t items_max =
        command.items_max != 0 ? command.items_max : wire::queue_items_max_default;
    const std::uint64_t bytes_max =
        command.bytes_max != 0 ? command.bytes_max : wire::queue_bytes_max_default;
    if (meta.items + 1 > items_max || meta.bytes + command.value.size() > bytes_max) {
        return wire::make_error_reply(
            wire::error_queue_full,
            "queue holds " + std::to_string(meta.items) + " items of " +
                std::to_string(meta.bytes) + " bytes; the limits are " +
                std::to_string(items_max) + " items and " + std::to_string(bytes_max) + " bytes",
            {});
    }
    const std::uint64_t item = meta.next_item++;
    const Status status = write_key(wire::ready_key(base, item), command.value, 0, fx);
    if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "queue_put", {});
    ++meta.items;
    meta.bytes += command.value.size();
    write_queue_meta(base, meta, fx);
    fx.queue_ready.push_back({command.name, item});
    wire::ClientReply reply = ok_reply(fx.index);
    reply.item = item;
    return reply;
}

wire::ClientReply KvStateMachine::run_queue_get(const wire::Command& command, Effects& fx) {
    const std::string base = wire::queue_base(command.name);
    wire::ClientReply reply = ok_reply(fx.index);
    reply.succeeded = false;
    storage::RangeResult head = fx.txn->range(wire::ready_prefix(base), 1, SIZE_MAX);
    if (head.kvs.empty()) return reply;  // empty: a waiting get is held by its node
    auto& [ready, value] = head.kvs.front();
    const std::uint64_t item = wire::item_of(ready);
    const std::uint64_t receipt = grant_lease(0, command.ttl_ms, fx);
    erase_plain(ready, fx);
    const Status status = write_key(wire::in_flight_key(base, item), value, receipt, fx);
    if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "queue_get", {});
    wire::QueueMeta meta = queue_meta(base, fx);
    ++meta.in_flight;
    write_queue_meta(base, meta, fx);
    reply.succeeded = true;
    reply.item = item;
    reply.value = std::move(value);
    reply.receipt = receipt;
    return reply;
}

wire::ClientReply KvStateMachine::run_queue_ack(const wire::Command& command, Effects& fx) {
    const std::string base = wire::queue_base(command.name);
    const std::string key = wire::in_flight_key(base, command.item);
    const std::optional<storage::StoredValue> entry = fx.txn->get_entry(key);
    wire::ClientReply reply = ok_reply(fx.index);
    reply.succeeded = entry && entry->meta.lease == command.lease;
    if (!*reply.succeeded) return reply;
    // Gone for good: neither erase_present (it would give the item back)
    // nor drop_lease.
    fx.txn->detach_key(command.lease, key);
    fx.txn->erase_lease(command.lease);
    fx.leases.push_back({command.lease, fx.index, 0});
    erase_plain(key, fx);
    wire::QueueMeta meta = queue_meta(base, fx);
    --meta.items;
    --meta.in_flight;
    meta.bytes -= std::min<std::uint64_t>(meta.bytes, entry->value.size());
    write_queue_meta(base, meta, fx);
    return reply;
}

void KvStateMachine::give_back(std::string_view key, Effects& fx) {
    const std::optional<wire::InFlightKey> parsed = wire::parse_in_flight_key(key);
    const std::optional<std::string> value = fx.txn->get(key);
    if (!parsed || !value) return;
    (void)write_key(wire::ready_key(parsed->base, parsed->item), *value, 0, fx);
    wire::QueueMeta meta = queue_meta(parsed->base, fx);
    if (meta.in_flight > 0) --meta.in_flight;
    write_queue_meta(parsed->base, meta, fx);
    fx.queue_ready.push_back({queue_name(parsed->base), parsed->item});
}

}  // namespace cabildo::node
