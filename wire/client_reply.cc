// Client replies: encode_reply() for the node, decode_reply() for the C++
// client (client_messages.h). Requests are in client_request.cc.
//
// A status reply spreads NodeStatus over top-level keys; a range reply sends
// RangePage as `kvs` (an array of {key, value} maps) and `more`.
#include "wire/client_messages.h"
#include "wire/decode_util.h"
#include "wire/event.h"

namespace cabildo::wire {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

constexpr std::size_t text_bytes_max = 64 << 10;  // error, message, role, endpoints

// Depth 8 leaves an echoed `id` the nesting a request allows it.
constexpr detail::UnpackLimits reply_limits{
    .frame_bytes_max = reply_frame_bytes_max,
    .array_size_max = range_limit_max,
    .map_size_max = 256,
    .str_bytes_max = reply_frame_bytes_max,
    .bin_bytes_max = reply_frame_bytes_max,
    .depth_max = 8,
};

void pack_range(detail::MapWriter& writer, const RangePage& range) {
    Packer& packer = writer.key("kvs");
    packer.pack_array(static_cast<std::uint32_t>(range.kvs.size()));
    for (const KeyValue& kv : range.kvs) {
        packer.pack_map(2);
        detail::pack_str(packer, "key");
        detail::pack_bin(packer, kv.key);
        detail::pack_str(packer, "value");
        detail::pack_bin(packer, kv.value);
    }
    detail::pack_bool(writer.key("more"), range.more);
}

void pack_status(detail::MapWriter& writer, const NodeStatus& status) {
    writer.key("node_id").pack_uint64(status.node_id);
    detail::pack_str(writer.key("role"), status.role);
    writer.key("term").pack_uint64(status.term);
    writer.key("leader_id").pack_uint64(status.leader_id);
    writer.key("commit_index").pack_uint64(status.commit_index);
    writer.key("applied_index").pack_uint64(status.applied_index);
    writer.key("last_index").pack_uint64(status.last_index);
    writer.key("state_hash").pack_uint64(status.state_hash);
    Packer& packer = writer.key("members");
    packer.pack_array(static_cast<std::uint32_t>(status.members.size()));
    for (const MemberInfo& member : status.members) {
        packer.pack_map(2);
        detail::pack_str(packer, "id");
        packer.pack_uint64(member.id);
        detail::pack_str(packer, "client_endpoint");
        detail::pack_str(packer, member.client_endpoint);
    }
    detail::pack_bool(writer.key("recovering"), status.recovering);
    writer.key("recovering_to").pack_uint64(status.recovering_to);
    writer.key("requests_pending").pack_uint64(status.requests_pending);
    writer.key("requests_expired").pack_uint64(status.requests_expired);
    writer.key("requests_overloaded").pack_uint64(status.requests_overloaded);
    writer.key("forward_reply_queues").pack_uint64(status.forward_reply_queues);
    writer.key("first_index").pack_uint64(status.first_index);
    writer.key("snapshot_index").pack_uint64(status.snapshot_index);
    detail::pack_bool(writer.key("snapshot_in_progress"), status.snapshot_in_progress);
    writer.key("snapshot_transfers").pack_uint64(status.snapshot_transfers);
    writer.key("snapshot_chunks_refused").pack_uint64(status.snapshot_chunks_refused);
}

// error and message are STR, so they must be valid UTF-8; they may quote
// untrusted bytes (an unknown op), so anything but printable ASCII is
// escaped as \xNN (idempotent: decode applies it too, so a decoded reply
// re-encodes to itself). Bug found by the hostile-input test: a Python client
// could not decode a reply quoting op "\xff\xfe\xfd".
std::string printable(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        // Escaping grows the text: cap it where the decoder's limit is
        // (found by fuzzing: a 16 KiB binary message re-encoded too large).
        const bool plain = c >= 0x20 && c < 0x7f;
        if (out.size() + (plain ? 1 : 4) > text_bytes_max) break;
        if (plain) {
            out.push_back(static_cast<char>(c));
        } else {
            out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
        }
    }
    return out;
}

std::string_view key_name(const msgpack::object& key) {
    if (key.type != msgpack::type::STR)
        return {};
    return std::string_view(key.via.str.ptr, key.via.str.size);
}

void pack_membership(Packer& packer, const MembershipInfo& membership) {
    packer.pack_map(4);
    detail::pack_str(packer, "index");
    packer.pack_uint64(membership.index);
    detail::pack_str(packer, "pending");
    detail::pack_bool(packer, membership.pending);
    detail::pack_str(packer, "cluster_id");
    packer.pack_uint64(membership.cluster_id);
    detail::pack_str(packer, "members");
    packer.pack_array(static_cast<std::uint32_t>(membership.members.size()));
    for (const MemberInfo& member : membership.members) {
        packer.pack_map(7);
        detail::pack_str(packer, "active");
        detail::pack_bool(packer, member.active);
        detail::pack_str(packer, "id");
        packer.pack_uint64(member.id);
        detail::pack_str(packer, "uuid");
        detail::pack_str(packer, member.uuid);
        detail::pack_str(packer, "peer");
        detail::pack_str(packer, member.peer);
        detail::pack_str(packer, "client_endpoint");
        detail::pack_str(packer, member.client_endpoint);
        detail::pack_str(packer, "learner");
        detail::pack_bool(packer, member.learner);
        detail::pack_str(packer, "match_index");
        packer.pack_uint64(member.match_index);
    }
}

KeyValue read_key_value(detail::FieldReader& reader, const msgpack::object& object) {
    KeyValue kv;
    for (const msgpack::object_kv& field : reader.read_map(object, "kvs")) {
        const std::string_view name = key_name(field.key);
        if (name == "key")
            kv.key = reader.read_bytes(field.val, "kvs key", key_bytes_max);
        if (name == "value") {
            kv.value = reader.read_bytes(field.val, "kvs value", value_bytes_max);
        }
    }
    return kv;
}

MemberInfo read_member(detail::FieldReader& reader, const msgpack::object& object) {
    MemberInfo member;
    for (const msgpack::object_kv& field : reader.read_map(object, "members")) {
        const std::string_view name = key_name(field.key);
        if (name == "id")
            member.id = reader.read_uint(field.val, "members id");
        if (name == "client_endpoint") {
            member.client_endpoint =
                reader.read_bytes(field.val, "members client_endpoint", text_bytes_max);
        }
        if (name == "peer") member.peer = reader.read_bytes(field.val, "members peer", text_bytes_max);
        if (name == "learner") member.learner = reader.read_bool(field.val, "members learner");
        if (name == "active") member.active = reader.read_bool(field.val, "members active");
        if (name == "uuid") member.uuid = reader.read_bytes(field.val, "members uuid", text_bytes_max);
        if (name == "match_index") {
            member.match_index = reader.read_uint(field.val, "members match_index");
        }
    }
    return member;
}

MembershipInfo read_membership(detail::FieldReader& reader, const msgpack::object& object) {
    MembershipInfo membership;
    for (const msgpack::object_kv& field : reader.read_map(object, "membership")) {
        const std::string_view name = key_name(field.key);
        if (name == "index") membership.index = reader.read_uint(field.val, "membership index");
        if (name == "pending") membership.pending = reader.read_bool(field.val, "membership pending");
        if (name == "cluster_id") {
            membership.cluster_id = reader.read_uint(field.val, "membership cluster_id");
        }
        if (name == "members") {
            const std::span<const msgpack::object> members =
                reader.read_array(field.val, "membership members", 0);
            if (members.size() > members_max) reader.fail(Status::too_large, "members: too many");
            for (const msgpack::object& member : members) {
                if (!reader.ok()) break;
                membership.members.push_back(read_member(reader, member));
            }
        }
    }
    return membership;
}

// The status keys; returns false if name is not one.
bool read_status_field(detail::FieldReader& reader, std::string_view name,
                       const msgpack::object& value, NodeStatus& status) {
    if (name == "node_id") {
        status.node_id = reader.read_uint(value, name);
    } else if (name == "role") {
        status.role = reader.read_bytes(value, name, text_bytes_max);
    } else if (name == "term") {
        status.term = reader.read_uint(value, name);
    } else if (name == "leader_id") {
        status.leader_id = reader.read_uint(value, name);
    } else if (name == "commit_index") {
        status.commit_index = reader.read_uint(value, name);
    } else if (name == "applied_index") {
        status.applied_index = reader.read_uint(value, name);
    } else if (name == "last_index") {
        status.last_index = reader.read_uint(value, name);
    } else if (name == "state_hash") {
        status.state_hash = reader.read_uint(value, name);
    } else if (name == "recovering") {
        status.recovering = reader.read_bool(value, name);
    } else if (name == "recovering_to") {
        status.recovering_to = reader.read_uint(value, name);
    } else if (name == "requests_pending") {
        status.requests_pending = reader.read_uint(value, name);
    } else if (name == "requests_expired") {
        status.requests_expired = reader.read_uint(value, name);
    } else if (name == "requests_overloaded") {
        status.requests_overloaded = reader.read_uint(value, name);
    } else if (name == "forward_reply_queues") {
        status.forward_reply_queues = reader.read_uint(value, name);
    } else if (name == "first_index") {
        status.first_index = reader.read_uint(value, name);
    } else if (name == "snapshot_index") {
        status.snapshot_index = reader.read_uint(value, name);
    } else if (name == "snapshot_in_progress") {
        status.snapshot_in_progress = reader.read_bool(value, name);
    } else if (name == "snapshot_transfers") {
        status.snapshot_transfers = reader.read_uint(value, name);
    } else if (name == "snapshot_chunks_refused") {
        status.snapshot_chunks_refused = reader.read_uint(value, name);
    } else if (name == "members") {
        const std::span<const msgpack::object> members = reader.read_array(value, name, 0);
        if (members.size() > members_max)
            reader.fail(Status::too_large, "members: too many");
        for (const msgpack::object& member : members) {
            status.members.push_back(read_member(reader, member));
        }
    } else {
        return false;
    }
    return true;
}

// {"index", "term", "total", "offset", "data"}.
SnapshotChunk read_snapshot_chunk(detail::FieldReader& reader, const msgpack::object& object) {
    SnapshotChunk chunk;
    for (const msgpack::object_kv& kv : reader.read_map(object, "snapshot")) {
        const std::string_view name = key_name(kv.key);
        if (name == "index") {
            chunk.index = reader.read_uint(kv.val, "snapshot index");
        } else if (name == "term") {
            chunk.term = reader.read_uint(kv.val, "snapshot term");
        } else if (name == "total") {
            chunk.total = reader.read_uint(kv.val, "snapshot total");
        } else if (name == "offset") {
            chunk.offset = reader.read_uint(kv.val, "snapshot offset");
        } else if (name == "data") {
            chunk.data = reader.read_bytes(kv.val, "snapshot data", reply_frame_bytes_max);
        }
    }
    return chunk;
}

// Keys other than the status ones. `ok` is tracked by the caller.
void read_reply_field(detail::FieldReader& reader, std::string_view name,
                      const msgpack::object& value, ClientReply& reply) {
    if (name == "ok") {
        reply.ok = reader.read_bool(value, name);
    } else if (name == "error") {
        reply.error = printable(reader.read_bytes(value, name, text_bytes_max));
    } else if (name == "message") {
        reply.message = printable(reader.read_bytes(value, name, text_bytes_max));
    } else if (name == "value") {
        reply.value = reader.read_optional_bytes(value, name, value_bytes_max);
    } else if (name == "succeeded") {
        reply.succeeded = reader.read_bool(value, name);
    } else if (name == "revision") {
        reply.revision = reader.read_uint(value, name);
    } else if (name == "leader") {
        reply.leader = reader.read_optional_bytes(value, name, text_bytes_max);
    } else if (name == "kvs") {
        if (!reply.range)
            reply.range.emplace();
        for (const msgpack::object& kv : reader.read_array(value, name, 0)) {
            reply.range->kvs.push_back(read_key_value(reader, kv));
        }
    } else if (name == "more") {
        reply.more = reader.read_bool(value, name);  // range's or watch_from's: see below
    } else if (name == "events") {
        reply.events.emplace();
        for (const msgpack::object& event : reader.read_array(value, name, 0)) {
            reply.events->push_back(detail::read_event(reader, event));
        }
    } else if (name == "snapshot") {
        reply.snapshot = read_snapshot_chunk(reader, value);
    } else if (name == "membership") {
        reply.membership = read_membership(reader, value);
    } else if (name == "id") {
        reply.id = detail::encode_object(value);
    }
}

Result<ClientReply> decode_reply_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle = detail::unpack_frame(data, size, reply_limits, "reply");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    ClientReply reply;
    NodeStatus status;
    bool has_ok = false;
    bool has_status = false;
    for (const msgpack::object_kv& kv : reader.read_map(handle->get(), "reply")) {
        const std::string_view name = key_name(kv.key);
        has_ok = has_ok || name == "ok";
        if (read_status_field(reader, name, kv.val, status)) {
            has_status = true;
        } else {
            read_reply_field(reader, name, kv.val, reply);
        }
    }
    if (!reader.ok())
        return reader.error();
    if (!has_ok)
        return Error{Status::bad_request, "ok: missing"};
    if (has_status)
        reply.status = std::move(status);
    if (reply.range) {
        reply.range->more = reply.more.value_or(false);
        reply.more.reset();
    }
    return reply;
}

}  // namespace

std::string encode_reply(const ClientReply& reply) {
    detail::MapWriter writer;
    detail::pack_bool(writer.key("ok"), reply.ok);
    if (!reply.id.empty()) {
        writer.key("id");
        writer.raw(reply.id);
    }
    if (reply.ok || reply.revision != 0)
        writer.key("revision").pack_uint64(reply.revision);
    if (!reply.ok || !reply.error.empty())
        detail::pack_str(writer.key("error"), printable(reply.error));
    if (!reply.ok || !reply.message.empty()) {
        detail::pack_str(writer.key("message"), printable(reply.message));
    }
    if (reply.leader) {
        detail::pack_str(writer.key("leader"), *reply.leader);
    } else {
        writer.key("leader").pack_nil();
    }
    if (reply.value)
        detail::pack_optional_bin(writer.key("value"), *reply.value);
    if (reply.succeeded)
        detail::pack_bool(writer.key("succeeded"), *reply.succeeded);
    if (reply.range)
        pack_range(writer, *reply.range);
    if (reply.status)
        pack_status(writer, *reply.status);
    if (reply.events) {
        Packer& packer = writer.key("events");
        packer.pack_array(static_cast<std::uint32_t>(reply.events->size()));
        for (const Event& event : *reply.events) detail::pack_event(packer, event);
    }
    if (reply.more && !reply.range)
        detail::pack_bool(writer.key("more"), *reply.more);
    if (reply.snapshot) {
        Packer& packer = writer.key("snapshot");
        packer.pack_map(5);
        detail::pack_str(packer, "index");
        packer.pack_uint64(reply.snapshot->index);
        detail::pack_str(packer, "term");
        packer.pack_uint64(reply.snapshot->term);
        detail::pack_str(packer, "total");
        packer.pack_uint64(reply.snapshot->total);
        detail::pack_str(packer, "offset");
        packer.pack_uint64(reply.snapshot->offset);
        detail::pack_str(packer, "data");
        detail::pack_bin(packer, reply.snapshot->data);
    }
    if (reply.membership) pack_membership(writer.key("membership"), *reply.membership);
    return writer.finish();
}

Result<ClientReply> decode_reply(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_reply_unguarded(data, size); }, "reply");
}

}  // namespace cabildo::wire
