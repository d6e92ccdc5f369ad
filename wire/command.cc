// msgpack layout of the replicated Command (command.h).
//
// A command that fails these checks on decode means a corrupt or foreign log
// entry; the caller decides what that means for the state machine.
#include "wire/command.h"

#include "wire/decode_util.h"
#include "wire/protocol.h"

namespace cabildo::wire {

namespace {

constexpr std::size_t command_fields = 6;  // after the version

constexpr detail::UnpackLimits command_limits{
    .frame_bytes_max = entry_data_bytes_max,
    .array_size_max = 64,
    .map_size_max = 16,     // only to report "expected array, got map"
    .str_bytes_max = 1024,  // room for fields a later version appends
    .bin_bytes_max = value_bytes_max,
    .depth_max = 1,
};

std::optional<Error> check_command(const Command& command) {
    if (command.op != Op::put && command.op != Op::del && command.op != Op::cas) {
        return Error{Status::bad_request, "op: not a write"};
    }
    if (command.key.empty() || command.key.size() > key_bytes_max) {
        return Error{Status::bad_request, "key: size out of range"};
    }
    if (command.value.size() > value_bytes_max) {
        return Error{Status::too_large, "value: too large"};
    }
    if (command.op == Op::del && !command.value.empty()) {
        return Error{Status::bad_request, "value: set for delete"};
    }
    if (command.expected.has_value() != (command.op == Op::cas)) {
        return Error{Status::bad_request, "expected: set exactly for cas"};
    }
    if ((command.session == 0) != (command.seq == 0)) {
        return Error{Status::bad_request, "session/seq: both 0 or both non-zero"};
    }
    return std::nullopt;
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
    command.op = op <= static_cast<std::uint64_t>(Op::status) ? static_cast<Op>(op) : Op::get;
    command.key = reader.read_bin(fields[1], "key", key_bytes_max);
    command.value = reader.read_bin(fields[2], "value", value_bytes_max);
    std::optional<std::string> expected;
    if (fields[3].type != msgpack::type::NIL) {
        expected = reader.read_bin(fields[3], "expected", value_bytes_max);
    }
    if (command.op == Op::cas)
        command.expected = std::move(expected);
    if (command.op != Op::cas && expected)
        reader.fail(Status::bad_request, "expected: not cas");
    command.session = reader.read_uint(fields[4], "session");
    command.seq = reader.read_uint(fields[5], "seq");
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
    packer.pack_array(command_fields + 1);
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
    return detail::to_string(buffer);
}

Result<Command> decode_command(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_command_unguarded(data, size); }, "command");
}

}  // namespace cabildo::wire
