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

// The four metadata pairs of a map (the caller counts them in its size).
void pack_meta_pairs(Packer& packer, const KeyMeta& meta) {
    detail::pack_str(packer, "create_revision");
    packer.pack_uint64(meta.create_revision);
    detail::pack_str(packer, "mod_revision");
    packer.pack_uint64(meta.mod_revision);
    detail::pack_str(packer, "version");
    packer.pack_uint64(meta.version);
    detail::pack_str(packer, "lease");
    packer.pack_uint64(meta.lease);
}

void pack_meta_keys(detail::MapWriter& writer, const KeyMeta& meta) {
    writer.key("create_revision").pack_uint64(meta.create_revision);
    writer.key("mod_revision").pack_uint64(meta.mod_revision);
    writer.key("version").pack_uint64(meta.version);
    writer.key("lease").pack_uint64(meta.lease);
}

void pack_kvs(Packer& packer, const RangePage& range) {
    packer.pack_array(static_cast<std::uint32_t>(range.kvs.size()));
    for (const KeyValue& kv : range.kvs) {
        packer.pack_map(6);
        detail::pack_str(packer, "key");
        detail::pack_bin(packer, kv.key);
        detail::pack_str(packer, "value");
        detail::pack_bin(packer, kv.value);
        pack_meta_pairs(packer, kv.meta);
    }
}

void pack_range(detail::MapWriter& writer, const RangePage& range) {
    pack_kvs(writer.key("kvs"), range);
    detail::pack_bool(writer.key("more"), range.more);
}

void pack_prev(Packer& packer, const std::optional<PrevValue>& prev) {
    if (!prev) {
        packer.pack_nil();
        return;
    }
    packer.pack_map(5);
    detail::pack_str(packer, "value");
    detail::pack_bin(packer, prev->value);
    pack_meta_pairs(packer, prev->meta);
}

void pack_lease_info(Packer& packer, const LeaseInfo& lease) {
    packer.pack_map(lease.keys ? 4 : 3);
    detail::pack_str(packer, "lease");
    packer.pack_uint64(lease.id);
    detail::pack_str(packer, "ttl_ms");
    packer.pack_uint64(lease.ttl_ms);
    detail::pack_str(packer, "remaining_ms");
    packer.pack_uint64(lease.remaining_ms);
    if (lease.keys) {
        detail::pack_str(packer, "keys");
        packer.pack_array(static_cast<std::uint32_t>(lease.keys->size()));
        for (const std::string& key : *lease.keys) detail::pack_bin(packer, key);
    }
}

void pack_responses(Packer& packer, const std::vector<TxnResponse>& responses) {
    packer.pack_array(static_cast<std::uint32_t>(responses.size()));
    for (const TxnResponse& r : responses) {
        const std::uint32_t size = 1 + (r.value ? 1 : 0) + (r.meta ? 4 : 0) + (r.range ? 2 : 0) +
                                   (r.prev ? 1 : 0) + (r.deleted ? 2 : 0);
        packer.pack_map(size);
        detail::pack_str(packer, "op");
        detail::pack_str(packer, op_name(r.op));
        if (r.value) {
            detail::pack_str(packer, "value");
            detail::pack_optional_bin(packer, *r.value);
        }
        if (r.meta) pack_meta_pairs(packer, *r.meta);
        if (r.range) {
            detail::pack_str(packer, "kvs");
            pack_kvs(packer, *r.range);
            detail::pack_str(packer, "more");
            detail::pack_bool(packer, r.range->more);
        }
        if (r.prev) {
            detail::pack_str(packer, "prev");
            pack_prev(packer, *r.prev);
        }
        if (r.deleted) {
            detail::pack_str(packer, "deleted");
            packer.pack_uint64(*r.deleted);
            detail::pack_str(packer, "more");
            detail::pack_bool(packer, r.more);
        }
    }
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
    writer.key("quota_bytes").pack_uint64(status.quota_bytes);
    writer.key("state_bytes").pack_uint64(status.state_bytes);
    writer.key("writes_per_s").pack_uint64(status.writes_per_s);
    writer.key("reads_per_s").pack_uint64(status.reads_per_s);
    writer.key("fsync_p99_us").pack_uint64(status.fsync_p99_us);
    writer.key("rss_bytes").pack_uint64(status.rss_bytes);
    writer.key("leader_changes").pack_uint64(status.leader_changes);
    writer.key("uptime_ms").pack_uint64(status.uptime_ms);
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

// One of the four metadata keys into meta; false if name is none of them.
bool read_meta_field(detail::FieldReader& reader, std::string_view name,
                     const msgpack::object& value, KeyMeta& meta) {
    if (name == "create_revision") {
        meta.create_revision = reader.read_uint(value, name);
    } else if (name == "mod_revision") {
        meta.mod_revision = reader.read_uint(value, name);
    } else if (name == "version") {
        meta.version = reader.read_uint(value, name);
    } else if (name == "lease") {
        meta.lease = reader.read_uint(value, name);
    } else {
        return false;
    }
    return true;
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
        read_meta_field(reader, name, field.val, kv.meta);
    }
    return kv;
}

std::vector<KeyValue> read_kvs(detail::FieldReader& reader, const msgpack::object& object) {
    std::vector<KeyValue> kvs;
    for (const msgpack::object& kv : reader.read_array(object, "kvs", 0)) {
        kvs.push_back(read_key_value(reader, kv));
    }
    return kvs;
}

std::optional<PrevValue> read_prev(detail::FieldReader& reader, const msgpack::object& object) {
    if (object.type == msgpack::type::NIL) return std::nullopt;
    PrevValue prev;
    for (const msgpack::object_kv& field : reader.read_map(object, "prev")) {
        const std::string_view name = key_name(field.key);
        if (name == "value") prev.value = reader.read_bytes(field.val, "prev value", value_bytes_max);
        read_meta_field(reader, name, field.val, prev.meta);
    }
    return prev;
}

std::vector<std::string> read_keys(detail::FieldReader& reader, const msgpack::object& object) {
    std::vector<std::string> keys;
    for (const msgpack::object& key : reader.read_array(object, "keys", 0)) {
        keys.push_back(reader.read_bytes(key, "keys", key_bytes_max));
    }
    return keys;
}

LeaseInfo read_lease_info(detail::FieldReader& reader, const msgpack::object& object) {
    LeaseInfo lease;
    for (const msgpack::object_kv& field : reader.read_map(object, "leases")) {
        const std::string_view name = key_name(field.key);
        if (name == "lease") lease.id = reader.read_uint(field.val, "leases lease");
        if (name == "ttl_ms") lease.ttl_ms = reader.read_uint(field.val, "leases ttl_ms");
        if (name == "remaining_ms") {
            lease.remaining_ms = reader.read_uint(field.val, "leases remaining_ms");
        }
        if (name == "keys") lease.keys = read_keys(reader, field.val);
    }
    return lease;
}

TxnResponse read_response(detail::FieldReader& reader, const msgpack::object& object) {
    TxnResponse r;
    KeyMeta meta;
    bool has_meta = false;
    std::optional<bool> more;
    for (const msgpack::object_kv& field : reader.read_map(object, "responses")) {
        const std::string_view name = key_name(field.key);
        if (name == "op") {
            const std::string op = reader.read_bytes(field.val, "responses op", 32);
            for (Op o : {Op::get, Op::range, Op::put, Op::del}) {
                if (op_name(o) == op) r.op = o;
            }
        } else if (name == "value") {
            r.value = reader.read_optional_bytes(field.val, "responses value", value_bytes_max);
        } else if (name == "kvs") {
            if (!r.range) r.range.emplace();
            r.range->kvs = read_kvs(reader, field.val);
        } else if (name == "more") {
            more = reader.read_bool(field.val, "responses more");
        } else if (name == "prev") {
            r.prev = read_prev(reader, field.val);
        } else if (name == "deleted") {
            r.deleted = reader.read_uint(field.val, "responses deleted");
        } else {
            has_meta = read_meta_field(reader, name, field.val, meta) || has_meta;
        }
    }
    if (has_meta) r.meta = meta;
    if (r.range) r.range->more = more.value_or(false);
    if (r.deleted) r.more = more.value_or(false);
    return r;
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
    } else if (name == "quota_bytes") {
        status.quota_bytes = reader.read_uint(value, name);
    } else if (name == "state_bytes") {
        status.state_bytes = reader.read_uint(value, name);
    } else if (name == "writes_per_s") {
        status.writes_per_s = reader.read_uint(value, name);
    } else if (name == "reads_per_s") {
        status.reads_per_s = reader.read_uint(value, name);
    } else if (name == "fsync_p99_us") {
        status.fsync_p99_us = reader.read_uint(value, name);
    } else if (name == "rss_bytes") {
        status.rss_bytes = reader.read_uint(value, name);
    } else if (name == "leader_changes") {
        status.leader_changes = reader.read_uint(value, name);
    } else if (name == "uptime_ms") {
        status.uptime_ms = reader.read_uint(value, name);
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
        reply.range->kvs = read_kvs(reader, value);
    } else if (name == "prev") {
        reply.prev = read_prev(reader, value);
    } else if (name == "deleted") {
        reply.deleted = reader.read_uint(value, name);
    } else if (name == "leases") {
        reply.leases.emplace();
        for (const msgpack::object& lease : reader.read_array(value, name, 0)) {
            reply.leases->push_back(read_lease_info(reader, lease));
        }
    } else if (name == "responses") {
        reply.responses.emplace();
        for (const msgpack::object& r : reader.read_array(value, name, 0)) {
            reply.responses->push_back(read_response(reader, r));
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
    } else if (name == "token") {
        reply.token = reader.read_uint(value, name);
    } else if (name == "key") {
        reply.key = reader.read_bytes(value, name, key_bytes_max);
    } else if (name == "item") {
        reply.item = reader.read_uint(value, name);
    } else if (name == "receipt") {
        reply.receipt = reader.read_uint(value, name);
    } else if (name == "items" || name == "in_flight" || name == "bytes") {
        if (!reply.queue_length) reply.queue_length.emplace();
        const std::uint64_t n = reader.read_uint(value, name);
        (name == "items"       ? reply.queue_length->items
         : name == "in_flight" ? reply.queue_length->in_flight
                               : reply.queue_length->bytes) = n;
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
    // `lease` is a key's lease beside the other metadata (get), else the
    // lease a lease op answers about (with ttl_ms).
    KeyMeta meta;
    bool has_meta = false;
    LeaseInfo lease;
    bool has_lease = false;
    for (const msgpack::object_kv& kv : reader.read_map(handle->get(), "reply")) {
        const std::string_view name = key_name(kv.key);
        has_ok = has_ok || name == "ok";
        if (read_status_field(reader, name, kv.val, status)) {
            has_status = true;
        } else if (name == "ttl_ms") {
            lease.ttl_ms = reader.read_uint(kv.val, name);
            has_lease = true;
        } else if (name == "remaining_ms") {
            lease.remaining_ms = reader.read_uint(kv.val, name);
        } else if (name == "keys") {
            lease.keys = read_keys(reader, kv.val);
        } else if (read_meta_field(reader, name, kv.val, meta)) {
            has_meta = has_meta || name != "lease";
        } else {
            read_reply_field(reader, name, kv.val, reply);
        }
    }
    if (has_lease) {
        lease.id = meta.lease;
        reply.lease = std::move(lease);
    } else if (has_meta) {
        reply.meta = meta;
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
    if (reply.meta) pack_meta_keys(writer, *reply.meta);
    if (reply.prev) pack_prev(writer.key("prev"), *reply.prev);
    if (reply.deleted) writer.key("deleted").pack_uint64(*reply.deleted);
    if (reply.lease) {
        writer.key("lease").pack_uint64(reply.lease->id);
        writer.key("ttl_ms").pack_uint64(reply.lease->ttl_ms);
        writer.key("remaining_ms").pack_uint64(reply.lease->remaining_ms);
        if (reply.lease->keys) {
            Packer& packer = writer.key("keys");
            packer.pack_array(static_cast<std::uint32_t>(reply.lease->keys->size()));
            for (const std::string& key : *reply.lease->keys) detail::pack_bin(packer, key);
        }
    }
    if (reply.leases) {
        Packer& packer = writer.key("leases");
        packer.pack_array(static_cast<std::uint32_t>(reply.leases->size()));
        for (const LeaseInfo& lease : *reply.leases) pack_lease_info(packer, lease);
    }
    if (reply.responses) pack_responses(writer.key("responses"), *reply.responses);
    if (reply.token) writer.key("token").pack_uint64(*reply.token);
    if (reply.key) detail::pack_bin(writer.key("key"), *reply.key);
    if (reply.item) writer.key("item").pack_uint64(*reply.item);
    if (reply.receipt) writer.key("receipt").pack_uint64(*reply.receipt);
    if (reply.queue_length) {
        writer.key("items").pack_uint64(reply.queue_length->items);
        writer.key("in_flight").pack_uint64(reply.queue_length->in_flight);
        writer.key("bytes").pack_uint64(reply.queue_length->bytes);
    }
    return writer.finish();
}

Result<ClientReply> decode_reply(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_reply_unguarded(data, size); }, "reply");
}

}  // namespace cabildo::wire
