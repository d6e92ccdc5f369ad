// msgpack layouts of raft::Message, raft::Entry and raft::HardState (see
// raft_messages.h for the layouts and PROTOCOL.md for the peer protocol).
//
// Every array opens with protocol_version. Decoders accept extra trailing
// elements (a later version may append fields) but never missing ones.
#include "wire/raft_messages.h"

#include <algorithm>
#include <optional>

#include "wire/decode_util.h"
#include "wire/protocol.h"

namespace cabildo::wire {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
using Fields = std::span<const msgpack::object>;

constexpr std::size_t message_fields = 18;  // after the version, required
// Appended later in v1, optional when decoding (absent: zero): the
// snapshot's index, term and members (install_snapshot).
constexpr std::size_t message_fields_snapshot = 21;
// Appended after that: the snapshot's whole membership (voters, learners,
// addresses), encoded as a configuration entry's data.
constexpr std::size_t message_fields_membership = 22;
constexpr std::size_t snapshot_members_max = 1024;
constexpr std::size_t entry_fields = 4;     // term, index, type, data
constexpr std::size_t hard_state_fields = 3;
constexpr std::size_t record_elements_max = 64;

// Depth 3: the message array, its entries array, one entry array.
constexpr detail::UnpackLimits message_limits{
    .frame_bytes_max = raft_frame_bytes_max,
    .array_size_max = entries_per_message_max,
    .map_size_max = 16,     // only to report "expected array, got map"
    .str_bytes_max = 1024,  // room for fields a later version appends
    .bin_bytes_max = entry_data_bytes_max,
    .depth_max = 3,
};

constexpr detail::UnpackLimits entry_limits{
    .frame_bytes_max = entry_data_bytes_max + 64,
    .array_size_max = record_elements_max,
    .map_size_max = 16,     // only to report "expected array, got map"
    .str_bytes_max = 1024,  // room for fields a later version appends
    .bin_bytes_max = entry_data_bytes_max,
    .depth_max = 1,
};

constexpr detail::UnpackLimits hard_state_limits{
    .frame_bytes_max = 256,
    .array_size_max = record_elements_max,
    .map_size_max = 16,     // only to report "expected array, got map"
    .str_bytes_max = 1024,  // room for fields a later version appends
    .bin_bytes_max = 0,
    .depth_max = 1,
};

void pack_entry_fields(Packer& packer, const raft::Entry& entry) {
    packer.pack_uint64(entry.term);
    packer.pack_uint64(entry.index);
    packer.pack_uint8(static_cast<std::uint8_t>(entry.type));
    detail::pack_bin(packer, entry.data);
}

// Reads [term, index, type, data] from fields (which may hold more).
raft::Entry read_entry_fields(detail::FieldReader& reader, Fields fields) {
    raft::Entry entry;
    entry.term = reader.read_uint(fields[0], "entry term");
    entry.index = reader.read_uint(fields[1], "entry index");
    const std::uint64_t type = reader.read_uint(fields[2], "entry type");
    entry.data = reader.read_bin(fields[3], "entry data", entry_data_bytes_max);
    if (!reader.ok())
        return entry;
    if (type > raft::entry_type_max) {
        reader.fail(Status::bad_request, "entry type: unknown " + std::to_string(type));
    }
    entry.type = static_cast<raft::EntryType>(type);
    if (entry.type == raft::EntryType::config && !raft::decode_membership(entry.data)) {
        reader.fail(Status::bad_request, "entry data: not a membership");
    }
    return entry;
}

std::vector<raft::Entry> read_entries(detail::FieldReader& reader, const msgpack::object& object) {
    std::vector<raft::Entry> entries;
    const Fields elements = reader.read_array(object, "entries", 0);
    entries.reserve(elements.size());
    for (const msgpack::object& element : elements) {
        const Fields fields = reader.read_array(element, "entry", entry_fields);
        if (!reader.ok())
            break;
        entries.push_back(read_entry_fields(reader, fields));
    }
    return entries;
}

raft::Message read_message_fields(detail::FieldReader& reader, Fields f) {
    raft::Message message;
    const std::uint64_t type = reader.read_uint(f[0], "type");
    if (reader.ok() && type > raft::message_type_max) {
        reader.fail(Status::bad_request, "type: unknown " + std::to_string(type));
    }
    message.type = static_cast<raft::MessageType>(type);
    message.from = reader.read_uint(f[1], "from");
    message.to = reader.read_uint(f[2], "to");
    message.term = reader.read_uint(f[3], "term");
    message.last_log_index = reader.read_uint(f[4], "last_log_index");
    message.last_log_term = reader.read_uint(f[5], "last_log_term");
    message.transfer = reader.read_bool(f[6], "transfer");
    message.granted = reader.read_bool(f[7], "granted");
    message.prev_log_index = reader.read_uint(f[8], "prev_log_index");
    message.prev_log_term = reader.read_uint(f[9], "prev_log_term");
    message.entries = read_entries(reader, f[10]);
    message.leader_commit = reader.read_uint(f[11], "leader_commit");
    message.success = reader.read_bool(f[12], "success");
    message.match_index = reader.read_uint(f[13], "match_index");
    message.reject_index = reader.read_uint(f[14], "reject_index");
    message.hint_index = reader.read_uint(f[15], "hint_index");
    message.hint_term = reader.read_uint(f[16], "hint_term");
    message.read_round = reader.read_uint(f[17], "read_round");
    if (f.size() >= message_fields_snapshot) {
        message.snapshot.index = reader.read_uint(f[18], "snapshot_index");
        message.snapshot.term = reader.read_uint(f[19], "snapshot_term");
        const Fields members = reader.read_array(f[20], "snapshot_members", 0);
        if (reader.ok() && members.size() > snapshot_members_max) {
            reader.fail(Status::bad_request, "snapshot_members: too many");
        }
        std::vector<raft::NodeId> voters;
        for (std::size_t i = 0; reader.ok() && i < members.size(); ++i) {
            voters.push_back(reader.read_uint(members[i], "snapshot member"));
            // Found by fuzzing: an id 0 made a membership no encoder may write.
            if (reader.ok() && voters.back() == raft::node_none) {
                reader.fail(Status::bad_request, "snapshot member: id 0");
            }
        }
        message.snapshot.membership = raft::voters_membership(voters);
    }
    if (f.size() >= message_fields_membership) {
        const std::string data =
            reader.read_bin(f[21], "snapshot_membership", entry_data_bytes_max);
        std::optional<raft::Membership> membership = raft::decode_membership(data);
        if (reader.ok() && !membership) {
            reader.fail(Status::bad_request, "snapshot_membership: not a membership");
        }
        if (membership) message.snapshot.membership = std::move(*membership);
    }
    return message;
}

// Raft §5.3: the entries follow prev_log_index one by one; log terms never
// decrease (so none is below prev_log_term) and none exceeds the leader's term.
std::optional<Error> check_entries(const raft::Message& message) {
    raft::LogIndex index = message.prev_log_index;
    raft::Term term = std::max<raft::Term>(1, message.prev_log_term);
    for (const raft::Entry& entry : message.entries) {
        if (index == UINT64_MAX || entry.index != index + 1) {
            return Error{Status::bad_request, "entries: index " + std::to_string(entry.index) +
                                                  " does not follow " + std::to_string(index)};
        }
        if (entry.term < term || entry.term > message.term) {
            return Error{Status::bad_request, "entries: term " + std::to_string(entry.term) +
                                                  " at index " + std::to_string(entry.index) +
                                                  " out of order"};
        }
        index = entry.index;
        term = entry.term;
    }
    return std::nullopt;
}

std::optional<Error> check_message(const raft::Message& message) {
    if (message.from == raft::node_none || message.to == raft::node_none) {
        return Error{Status::bad_request, "from/to: node id 0"};
    }
    if (message.from == message.to) {
        return Error{Status::bad_request, "from/to: a message to itself"};
    }
    if (message.type != raft::MessageType::append_entries && !message.entries.empty()) {
        return Error{Status::bad_request, "entries: only append_entries carries entries"};
    }
    if (message.type == raft::MessageType::install_snapshot &&
        (message.snapshot.index == 0 || message.snapshot.term == 0 ||
         message.snapshot.term > message.term)) {
        return Error{Status::bad_request,
                     "install_snapshot: snapshot index and term must be >= 1, the term at most "
                     "the message's"};
    }
    return check_entries(message);
}

Result<raft::Message> decode_message_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, message_limits, "raft message");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    const Fields fields =
        detail::read_versioned_array(reader, handle->get(), "raft message", message_fields);
    if (!reader.ok())
        return reader.error();
    raft::Message message = read_message_fields(reader, fields);
    if (!reader.ok())
        return reader.error();
    if (std::optional<Error> error = check_message(message))
        return *error;
    return message;
}

Result<raft::Entry> decode_entry_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, entry_limits, "entry record");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    const Fields fields =
        detail::read_versioned_array(reader, handle->get(), "entry record", entry_fields);
    if (!reader.ok())
        return reader.error();
    raft::Entry entry = read_entry_fields(reader, fields);
    if (!reader.ok())
        return reader.error();
    if (entry.term == 0 || entry.index == 0) {
        return Error{Status::bad_request, "entry record: term and index must be >= 1"};
    }
    return entry;
}

Result<raft::HardState> decode_hard_state_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, hard_state_limits, "hard state record");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    const Fields fields =
        detail::read_versioned_array(reader, handle->get(), "hard state record", hard_state_fields);
    if (!reader.ok())
        return reader.error();
    raft::HardState hard_state;
    hard_state.term = reader.read_uint(fields[0], "term");
    hard_state.voted_for = reader.read_uint(fields[1], "voted_for");
    hard_state.commit_index = reader.read_uint(fields[2], "commit_index");
    if (!reader.ok())
        return reader.error();
    return hard_state;
}

}  // namespace

std::string encode_message(const raft::Message& message) {
    CABILDO_ASSERT(message.from != raft::node_none, "encode_message without from");
    CABILDO_ASSERT(message.to != raft::node_none, "encode_message without to");
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    packer.pack_array(message_fields_membership + 1);
    packer.pack_uint64(protocol_version);
    packer.pack_uint8(static_cast<std::uint8_t>(message.type));
    packer.pack_uint64(message.from);
    packer.pack_uint64(message.to);
    packer.pack_uint64(message.term);
    packer.pack_uint64(message.last_log_index);
    packer.pack_uint64(message.last_log_term);
    detail::pack_bool(packer, message.transfer);
    detail::pack_bool(packer, message.granted);
    packer.pack_uint64(message.prev_log_index);
    packer.pack_uint64(message.prev_log_term);
    packer.pack_array(static_cast<std::uint32_t>(message.entries.size()));
    for (const raft::Entry& entry : message.entries) {
        packer.pack_array(entry_fields);
        pack_entry_fields(packer, entry);
    }
    packer.pack_uint64(message.leader_commit);
    detail::pack_bool(packer, message.success);
    packer.pack_uint64(message.match_index);
    packer.pack_uint64(message.reject_index);
    packer.pack_uint64(message.hint_index);
    packer.pack_uint64(message.hint_term);
    packer.pack_uint64(message.read_round);
    packer.pack_uint64(message.snapshot.index);
    packer.pack_uint64(message.snapshot.term);
    const std::vector<raft::NodeId> voters = message.snapshot.membership.voters();
    packer.pack_array(static_cast<std::uint32_t>(voters.size()));
    for (raft::NodeId id : voters) packer.pack_uint64(id);
    detail::pack_bin(packer, raft::encode_membership(message.snapshot.membership));
    return detail::to_string(buffer);
}

std::string encode_entry(const raft::Entry& entry) {
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    packer.pack_array(entry_fields + 1);
    packer.pack_uint64(protocol_version);
    pack_entry_fields(packer, entry);
    return detail::to_string(buffer);
}

std::string encode_hard_state(const raft::HardState& hard_state) {
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    packer.pack_array(hard_state_fields + 1);
    packer.pack_uint64(protocol_version);
    packer.pack_uint64(hard_state.term);
    packer.pack_uint64(hard_state.voted_for);
    packer.pack_uint64(hard_state.commit_index);
    return detail::to_string(buffer);
}

Result<raft::Message> decode_message(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_message_unguarded(data, size); },
                                "raft message");
}

Result<raft::Entry> decode_entry(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_entry_unguarded(data, size); }, "entry record");
}

Result<raft::HardState> decode_hard_state(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_hard_state_unguarded(data, size); },
                                "hard state record");
}

}  // namespace cabildo::wire
