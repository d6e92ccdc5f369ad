// msgpack layout of the replicated Command (command.h).
//
// A command that fails these checks on decode means a corrupt or foreign log
// entry; the caller decides what that means for the state machine.
#include "wire/command.h"

#include "wire/coord.h"
#include "wire/decode_util.h"
#include "wire/protocol.h"
#include "wire/txn.h"

namespace cabildo::wire {

namespace {

constexpr std::size_t command_fields = 6;  // after the version, in every version
constexpr std::size_t command_fields_lease = 12;  // ... since leases and txns
constexpr std::size_t command_fields_now = 17;  // ... and those this one writes
constexpr std::uint8_t flag_prev = 1;
constexpr std::uint8_t flag_prefix = 2;
constexpr std::uint8_t flag_wait = 4;

constexpr detail::UnpackLimits command_limits{
    .frame_bytes_max = entry_data_bytes_max,
    .array_size_max = 1024,  // a txn's lists and lease expiries
    .map_size_max = 16,     // only to report "expected array, got map"
    .str_bytes_max = 1024,  // room for fields a later version appends
    .bin_bytes_max = value_bytes_max,
    .depth_max = 4,         // command, txn, branch, op
};

Error bad(std::string detail) { return Error{Status::bad_request, std::move(detail)}; }

// The coordination commands' fields (name, key, wait, token, item, limits).
std::optional<Error> check_coord_command(const Command& command) {
    const Op op = command.op;
    const bool coord = is_mutex_op(op) || is_queue_op(op);
    const bool by_key = (op == Op::unlock || op == Op::resign) && command.name.empty();
    if (coord && !by_key) {
        if (auto problem = check_coord_name(command.name)) return bad("name: " + *problem);
    }
    if (!coord && !command.name.empty()) return bad("name: set for " + std::string(op_name(op)));
    if (command.wait && !is_waiting_op(op)) return bad("wait: set for " + std::string(op_name(op)));
    if (command.token != 0 && op != Op::unlock && op != Op::resign) return bad("token: set");
    if ((op == Op::queue_ack) != (command.item != 0)) return bad("item: exactly for queue_ack");
    if (op != Op::queue_put && (command.items_max != 0 || command.bytes_max != 0))
        return bad("items_max/bytes_max: only for queue_put");
    if (op == Op::queue_get &&
        (command.ttl_ms < visibility_ms_min || command.ttl_ms > visibility_ms_max))
        return bad("ttl_ms: visibility out of range");
    return std::nullopt;
}

std::optional<Error> check_command(const Command& command) {
    const Op op = command.op;
    if (!is_command_op(op) && op != Op::lease_expire && op != Op::wait_cancel)
        return bad("op: not a write");
    const bool keyed = op == Op::put || op == Op::del || op == Op::cas || op == Op::wait_cancel ||
                       ((op == Op::unlock || op == Op::resign) && command.name.empty());
    if (keyed && (command.key.empty() || command.key.size() > key_bytes_max)) {
        return bad("key: size out of range");
    }
    if (!keyed && !command.key.empty()) return bad("key: set for " + std::string(op_name(op)));
    if (command.value.size() > value_bytes_max) {
        return Error{Status::too_large, "value: too large"};
    }
    const bool valued = op == Op::put || op == Op::cas || op == Op::lock || op == Op::campaign ||
                        op == Op::proclaim || op == Op::queue_put;
    if (!valued && !command.value.empty()) {
        return bad("value: set for " + std::string(op_name(op)));
    }
    if (auto error = check_coord_command(command)) return error;
    if (op == Op::cas && command.expected.has_value() == command.mod_revision.has_value()) {
        return bad("expected/mod_revision: exactly one for cas");
    }
    if (op != Op::cas && (command.expected || command.mod_revision)) {
        return bad("expected/mod_revision: only for cas");
    }
    if (command.prev && op != Op::put) return bad("prev: only for put");
    if (command.prefix && op != Op::del) return bad("prefix: only for delete");
    if (command.ttl_ms != 0 && op != Op::lease_grant && op != Op::queue_get)
        return bad("ttl_ms: only for lease_grant and queue_get");
    if (op == Op::lease_grant &&
        (command.ttl_ms < lease_ttl_ms_min || command.ttl_ms > lease_ttl_ms_max)) {
        return bad("ttl_ms: out of range");
    }
    if ((op == Op::lease_keepalive || op == Op::lease_revoke) && command.lease == 0) {
        return bad("lease: missing");
    }
    if (op == Op::del || op == Op::lease_expire || op == Op::txn || op == Op::wait_cancel ||
        op == Op::queue_put || op == Op::queue_get) {
        if (command.lease != 0) return bad("lease: set for " + std::string(op_name(op)));
    }
    if ((op == Op::lease_expire) == command.expiries.empty() ||
        command.expiries.size() > lease_expiries_max) {
        return bad("expiries: set exactly for lease_expire, at most " +
                   std::to_string(lease_expiries_max));
    }
    if (command.txn.has_value() != (op == Op::txn)) return bad("txn: set exactly for txn");
    if (command.txn) {
        if (auto error = detail::check_txn(*command.txn)) return error;
    }
    if ((command.session == 0) != (command.seq == 0)) {
        return Error{Status::bad_request, "session/seq: both 0 or both non-zero"};
    }
    return std::nullopt;
}

void read_appended(detail::FieldReader& reader, std::span<const msgpack::object> fields,
                   Command& command) {
    command.lease = reader.read_uint(fields[6], "lease");
    const std::uint64_t flags = reader.read_uint(fields[7], "flags");
    command.prev = (flags & flag_prev) != 0;
    command.prefix = (flags & flag_prefix) != 0;
    command.wait = (flags & flag_wait) != 0;
    if (fields[8].type != msgpack::type::NIL) {
        command.mod_revision = reader.read_uint(fields[8], "mod_revision");
    }
    command.ttl_ms = reader.read_uint(fields[9], "ttl_ms");
    for (const msgpack::object& e : reader.read_array(fields[10], "expiries", 0)) {
        const std::span<const msgpack::object> pair = reader.read_array(e, "expiry", 2);
        if (!reader.ok() || command.expiries.size() > lease_expiries_max) break;
        command.expiries.push_back(
            {reader.read_uint(pair[0], "expiry lease"), reader.read_uint(pair[1], "renewed")});
    }
    if (fields[11].type != msgpack::type::NIL) command.txn = detail::read_txn(reader, fields[11]);
    if (fields.size() < command_fields_now) return;
    command.name = reader.read_bin(fields[12], "name", coord_name_bytes_max);
    command.token = reader.read_uint(fields[13], "token");
    command.item = reader.read_uint(fields[14], "item");
    command.items_max = reader.read_uint(fields[15], "items_max");
    command.bytes_max = reader.read_uint(fields[16], "bytes_max");
}

Result<Command> decode_command_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, command_limits, "command");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    const std::span<const msgpack::object> fields =
        detail::read_versioned_array(reader, handle->get(), "command", command_fields);
    if (!reader.ok())
        return reader.error();
    Command command;
    const std::uint64_t op = reader.read_uint(fields[0], "op");
    command.op = op <= static_cast<std::uint64_t>(op_max) ? static_cast<Op>(op) : Op::get;
    command.key = reader.read_bin(fields[1], "key", key_bytes_max);
    command.value = reader.read_bin(fields[2], "value", value_bytes_max);
    std::optional<std::string> expected;
    if (fields[3].type != msgpack::type::NIL) {
        expected = reader.read_bin(fields[3], "expected", value_bytes_max);
    }
    const bool has_expected = fields[3].type != msgpack::type::NIL;
    command.session = reader.read_uint(fields[4], "session");
    command.seq = reader.read_uint(fields[5], "seq");
    if (fields.size() >= command_fields_lease) read_appended(reader, fields, command);
    // An older cas entry has no mod_revision field: its nil `expected`
    // meant "must be absent".
    if (command.op == Op::cas && (has_expected || !command.mod_revision))
        command.expected = std::move(expected);
    if (command.op != Op::cas && has_expected)
        reader.fail(Status::bad_request, "expected: not cas");
    if (!reader.ok())
        return reader.error();
    if (std::optional<Error> error = check_command(command))
        return *error;
    return command;
}

}  // namespace

std::string encode_command(const Command& command) {
    CABILDO_ASSERT(!check_command(command).has_value(), "encode_command: invalid command");
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(command_fields_now + 1);
    packer.pack_uint64(protocol_version);
    packer.pack_uint8(static_cast<std::uint8_t>(command.op));
    detail::pack_bin(packer, command.key);
    detail::pack_bin(packer, command.value);
    if (command.expected) {
        detail::pack_optional_bin(packer, *command.expected);
    } else {
        packer.pack_nil();
    }
    packer.pack_uint64(command.session);
    packer.pack_uint64(command.seq);
    packer.pack_uint64(command.lease);
    packer.pack_uint8(static_cast<std::uint8_t>((command.prev ? flag_prev : 0) |
                                                (command.prefix ? flag_prefix : 0) |
                                                (command.wait ? flag_wait : 0)));
    if (command.mod_revision) {
        packer.pack_uint64(*command.mod_revision);
    } else {
        packer.pack_nil();
    }
    packer.pack_uint64(command.ttl_ms);
    packer.pack_array(static_cast<std::uint32_t>(command.expiries.size()));
    for (const LeaseExpiry& e : command.expiries) {
        packer.pack_array(2);
        packer.pack_uint64(e.lease);
        packer.pack_uint64(e.renewed);
    }
    if (command.txn) {
        detail::pack_txn(packer, *command.txn);
    } else {
        packer.pack_nil();
    }
    detail::pack_bin(packer, command.name);
    packer.pack_uint64(command.token);
    packer.pack_uint64(command.item);
    packer.pack_uint64(command.items_max);
    packer.pack_uint64(command.bytes_max);
    return detail::to_string(buffer);
}

Result<Command> decode_command(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_command_unguarded(data, size); }, "command");
}

}  // namespace cabildo::wire
