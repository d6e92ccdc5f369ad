// Client requests: decode_request() for the node, encode_request() for the
// C++ client, extract_id() and the small name tables (client_messages.h).
//
// Decoding runs in two steps: read every known key of the map with its type
// checked (RequestFields), then check what each op needs. Replies are in
// client_reply.cc.
#include <optional>

#include "wire/client_messages.h"
#include "wire/decode_util.h"

namespace cabildo::wire {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

// Longest op or consistency name a request may spell.
constexpr std::size_t name_bytes_max = 32;
constexpr std::size_t peer_bytes_max = 255;  // member_add: "host:port"

// str/bin up to the frame size, so the field readers (not msgpack) report an
// oversized key or value, naming it.
constexpr detail::UnpackLimits request_limits{
    .frame_bytes_max = frame_bytes_max,
    .array_size_max = 1024,
    .map_size_max = 256,
    .str_bytes_max = frame_bytes_max,
    .bin_bytes_max = frame_bytes_max,
    .depth_max = 8,
};

// The known keys of a request map as found, before the per-op checks.
struct RequestFields {
    std::optional<std::string> op;
    std::optional<std::string> key;
    std::optional<std::string> value;
    bool has_expected = false;
    std::optional<std::string> expected;
    std::optional<std::string> prefix;
    std::optional<std::uint64_t> limit;
    std::optional<std::uint64_t> from;
    std::optional<std::uint64_t> index;
    std::optional<std::uint64_t> at_least;
    std::optional<std::uint64_t> member_id;
    std::optional<std::string> peer;
    std::optional<bool> learner;
    std::optional<std::string> consistency;
    std::optional<std::uint64_t> session;
    std::optional<std::uint64_t> seq;
    std::optional<std::uint64_t> timeout_ms;
    std::string id;
};

std::string read_id(detail::FieldReader& reader, const msgpack::object& object) {
    std::string id = detail::encode_object(object);
    if (id.size() > id_bytes_max) {
        reader.fail(Status::too_large, "id: " + std::to_string(id.size()) +
                                           " bytes encoded, the limit is " +
                                           std::to_string(id_bytes_max));
        return {};
    }
    return id;
}

// Unknown keys are ignored: later versions add keys. A repeated key: the last wins.
void read_request_field(detail::FieldReader& reader, std::string_view name,
                        const msgpack::object& value, RequestFields& fields) {
    if (name == "op") {
        fields.op = reader.read_bytes(value, name, name_bytes_max);
    } else if (name == "key") {
        fields.key = reader.read_bytes(value, name, key_bytes_max);
    } else if (name == "value") {
        fields.value = reader.read_bytes(value, name, value_bytes_max);
    } else if (name == "expected") {
        fields.has_expected = true;
        fields.expected = reader.read_optional_bytes(value, name, value_bytes_max);
    } else if (name == "prefix") {
        fields.prefix = reader.read_bytes(value, name, key_bytes_max);
    } else if (name == "limit") {
        fields.limit = reader.read_uint(value, name);
    } else if (name == "from") {
        fields.from = reader.read_uint(value, name);
    } else if (name == "index") {
        fields.index = reader.read_uint(value, name);
    } else if (name == "at_least") {
        fields.at_least = reader.read_uint(value, name);
    } else if (name == "member_id") {
        fields.member_id = reader.read_uint(value, name);
    } else if (name == "peer") {
        fields.peer = reader.read_bytes(value, name, peer_bytes_max);
    } else if (name == "learner") {
        fields.learner = reader.read_bool(value, name);
    } else if (name == "consistency") {
        fields.consistency = reader.read_bytes(value, name, name_bytes_max);
    } else if (name == "session") {
        fields.session = reader.read_uint(value, name);
    } else if (name == "seq") {
        fields.seq = reader.read_uint(value, name);
    } else if (name == "timeout_ms") {
        fields.timeout_ms = reader.read_uint(value, name);
    } else if (name == "id") {
        fields.id = read_id(reader, value);
    }
}

std::optional<Op> parse_op(std::string_view name) {
    for (Op op : {Op::get, Op::put, Op::del, Op::cas, Op::range, Op::status, Op::watch_from,
                  Op::snapshot_read, Op::member_list, Op::member_add, Op::member_promote,
                  Op::member_remove, Op::transfer_leader}) {
        if (op_name(op) == name)
            return op;
    }
    return std::nullopt;
}

Error bad_request(std::string detail) {
    return Error{Status::bad_request, std::move(detail)};
}

// key, value and expected: which op needs which.
std::optional<Error> check_key_value(Op op, const RequestFields& fields) {
    const bool needs_key = op == Op::get || op == Op::put || op == Op::del || op == Op::cas;
    if (needs_key && !fields.key)
        return bad_request("key: missing");
    if (needs_key && fields.key->empty())
        return bad_request("key: empty");
    if ((op == Op::put || op == Op::cas) && !fields.value)
        return bad_request("value: missing");
    if (op == Op::cas && !fields.has_expected)
        return bad_request("expected: missing");
    if (op == Op::watch_from && (!fields.from || *fields.from == 0))
        return bad_request("from: missing (a revision >= 1)");
    if (is_member_change(op) && (!fields.member_id || *fields.member_id == 0))
        return bad_request("member_id: missing (a node id >= 1)");
    if (op == Op::member_add && (!fields.peer || fields.peer->empty()))
        return bad_request("peer: missing (the new member's host:port)");
    return std::nullopt;
}

// limit, consistency, session and seq.
std::optional<Error> check_options(const RequestFields& fields, ClientRequest& request) {
    // Fields an op does not use are type-checked but keep their defaults
    // (found by fuzzing: they were kept, so a request did not re-encode to
    // itself).
    const Op op = request.op;
    const bool uses_limit = op == Op::range || op == Op::watch_from;
    const bool uses_consistency = op == Op::get || op == Op::range;
    if (fields.limit && uses_limit) {
        if (*fields.limit == 0 || *fields.limit > range_limit_max) {
            return bad_request("limit: " + std::to_string(*fields.limit) + " not in 1.." +
                               std::to_string(range_limit_max));
        }
        request.limit = static_cast<std::uint32_t>(*fields.limit);
    }
    if (fields.consistency && uses_consistency) {
        if (*fields.consistency == consistency_name(Consistency::serializable)) {
            request.consistency = Consistency::serializable;
        } else if (*fields.consistency != consistency_name(Consistency::linearizable)) {
            return bad_request("consistency: unknown '" + *fields.consistency + "'");
        }
    }
    if (fields.session.has_value() != fields.seq.has_value()) {
        return bad_request("session/seq: give both or neither");
    }
    if (fields.session && (*fields.session == 0 || *fields.seq == 0)) {
        return bad_request("session/seq: must be >= 1");
    }
    request.session = fields.session.value_or(0);
    request.seq = fields.seq.value_or(0);
    if (fields.timeout_ms) {
        if (*fields.timeout_ms == 0 || *fields.timeout_ms > timeout_ms_max) {
            return bad_request("timeout_ms: " + std::to_string(*fields.timeout_ms) + " not in 1.." +
                               std::to_string(timeout_ms_max));
        }
        request.timeout_ms = static_cast<std::uint32_t>(*fields.timeout_ms);
    }
    return std::nullopt;
}

Result<ClientRequest> build_request(RequestFields& fields) {
    if (!fields.op)
        return bad_request("op: missing");
    const std::optional<Op> op = parse_op(*fields.op);
    if (!op)
        return bad_request("op: unknown '" + *fields.op + "'");
    if (std::optional<Error> error = check_key_value(*op, fields))
        return *error;
    ClientRequest request;
    request.op = *op;
    if (std::optional<Error> error = check_options(fields, request))
        return *error;
    const bool uses_key = *op == Op::get || *op == Op::put || *op == Op::del || *op == Op::cas;
    if (fields.key && uses_key)
        request.key = std::move(*fields.key);
    if (fields.value && (*op == Op::put || *op == Op::cas))
        request.value = std::move(fields.value);
    if (*op == Op::cas)
        request.expected = std::move(fields.expected);
    if (fields.prefix && (*op == Op::range || *op == Op::watch_from))
        request.prefix = std::move(*fields.prefix);
    if (*op == Op::watch_from)
        request.from = *fields.from;
    if (is_member_change(*op) || *op == Op::transfer_leader)
        request.member_id = fields.member_id.value_or(0);
    if (*op == Op::member_add) {
        request.peer = std::move(*fields.peer);
        request.learner = fields.learner.value_or(false);
    }
    if (*op == Op::snapshot_read) {
        request.from = fields.from.value_or(0);
        request.index = fields.index.value_or(0);
        request.at_least = fields.at_least.value_or(0);
    }
    request.id = std::move(fields.id);
    return request;
}

Result<ClientRequest> decode_request_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, request_limits, "request");
    if (!handle)
        return handle.error();
    detail::FieldReader reader;
    RequestFields fields;
    for (const msgpack::object_kv& kv : reader.read_map(handle->get(), "request")) {
        if (kv.key.type != msgpack::type::STR)
            continue;
        const std::string_view name(kv.key.via.str.ptr, kv.key.via.str.size);
        read_request_field(reader, name, kv.val, fields);
    }
    if (!reader.ok())
        return reader.error();
    return build_request(fields);
}

std::string extract_id_unguarded(const void* data, std::size_t size) {
    Result<msgpack::object_handle> handle =
        detail::unpack_frame(data, size, request_limits, "request");
    if (!handle || handle->get().type != msgpack::type::MAP)
        return {};
    const msgpack::object_map& map = handle->get().via.map;
    // The last `id` wins, as in decode_request (found by fuzzing: a repeated
    // id was echoed differently on success and on error).
    for (std::uint32_t i = map.size; i-- > 0;) {
        const msgpack::object& key = map.ptr[i].key;
        if (key.type != msgpack::type::STR)
            continue;
        if (std::string_view(key.via.str.ptr, key.via.str.size) != "id")
            continue;
        std::string id = detail::encode_object(map.ptr[i].val);
        return id.size() <= id_bytes_max ? id : std::string();
    }
    return {};
}

}  // namespace

bool is_member_change(Op op) {
    return op == Op::member_add || op == Op::member_promote || op == Op::member_remove;
}

std::string_view op_name(Op op) {
    switch (op) {
        case Op::get: return "get";
        case Op::put: return "put";
        case Op::del: return "delete";
        case Op::cas: return "cas";
        case Op::range: return "range";
        case Op::status: return "status";
        case Op::watch_from: return "watch_from";
        case Op::snapshot_read: return "snapshot_read";
        case Op::member_list: return "member_list";
        case Op::member_add: return "member_add";
        case Op::member_promote: return "member_promote";
        case Op::member_remove: return "member_remove";
        case Op::transfer_leader: return "transfer_leader";
    }
    return "unknown";
}

std::string_view consistency_name(Consistency consistency) {
    switch (consistency) {
        case Consistency::linearizable: return "linearizable";
        case Consistency::serializable: return "serializable";
    }
    return "unknown";
}

Result<ClientRequest> decode_request(const void* data, std::size_t size) {
    return detail::guard_decode([&] { return decode_request_unguarded(data, size); }, "request");
}

std::string encode_request(const ClientRequest& request) {
    detail::MapWriter writer;
    detail::pack_str(writer.key("op"), op_name(request.op));
    const Op op = request.op;
    if (op == Op::get || op == Op::put || op == Op::del || op == Op::cas) {
        detail::pack_bin(writer.key("key"), request.key);
    }
    if (request.value)
        detail::pack_bin(writer.key("value"), *request.value);
    if (request.expected)
        detail::pack_optional_bin(writer.key("expected"), *request.expected);
    if (op == Op::range || op == Op::watch_from) {
        detail::pack_bin(writer.key("prefix"), request.prefix);
        writer.key("limit").pack_uint32(request.limit);
    }
    if (op == Op::watch_from)
        writer.key("from").pack_uint64(request.from);
    if (op == Op::snapshot_read) {
        writer.key("from").pack_uint64(request.from);
        writer.key("index").pack_uint64(request.index);
        writer.key("at_least").pack_uint64(request.at_least);
    }
    if (is_member_change(op) || (op == Op::transfer_leader && request.member_id != 0))
        writer.key("member_id").pack_uint64(request.member_id);
    if (op == Op::member_add) {
        detail::pack_str(writer.key("peer"), request.peer);
        detail::pack_bool(writer.key("learner"), request.learner);
    }
    if (op == Op::get || op == Op::range) {
        detail::pack_str(writer.key("consistency"), consistency_name(request.consistency));
    }
    if (request.session != 0) {
        writer.key("session").pack_uint64(request.session);
        writer.key("seq").pack_uint64(request.seq);
    }
    if (request.timeout_ms != 0)
        writer.key("timeout_ms").pack_uint32(request.timeout_ms);
    if (!request.id.empty()) {
        writer.key("id");
        writer.raw(request.id);
    }
    return writer.finish();
}

std::string extract_id(const void* data, std::size_t size) {
    try {
        return extract_id_unguarded(data, size);
    } catch (const std::exception&) {
        return {};
    }
}

std::string_view error_code(Status status) {
    switch (status) {
        case Status::bad_request: return error_bad_request;
        case Status::too_large: return error_too_large;
        case Status::storage_full: return error_storage_full;
        case Status::unavailable: return error_unavailable;
        case Status::not_found: return error_not_found;
        case Status::change_pending: return error_change_pending;
        case Status::lagging: return error_lagging;
        case Status::no_quorum: return error_no_quorum;
        default: return error_internal;
    }
}

ClientReply make_error_reply(std::string_view error, std::string message, std::string id) {
    ClientReply reply;
    reply.ok = false;
    reply.error = std::string(error);
    reply.message = std::move(message);
    reply.id = std::move(id);
    return reply;
}

}  // namespace cabildo::wire
