// Client requests: decode_request() for the node, encode_request() for the
// C++ client, extract_id() and the small name tables (client_messages.h).
//
// Decoding runs in two steps: read every known key of the map with its type
// checked (RequestFields), then check what each op needs. Replies are in
// client_reply.cc.
#include <optional>

#include "wire/client_messages.h"
#include "wire/coord.h"
#include "wire/decode_util.h"
#include "wire/txn.h"

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
    std::optional<std::uint64_t> lease;
    std::optional<std::uint64_t> ttl_ms;
    std::optional<bool> prev;
    std::optional<bool> keys;
    std::optional<std::uint64_t> mod_revision;
    std::optional<Txn> txn;  // any of compare/success/failure given
    std::optional<std::string> name;   // `name` or `queue`
    std::optional<std::uint64_t> wait_ms;
    std::optional<bool> keep;
    std::optional<std::uint64_t> visibility_ms;
    std::optional<std::uint64_t> token;
    std::optional<std::uint64_t> item;
    std::optional<std::uint64_t> receipt;
    std::string id;
};

std::optional<CompareTarget> parse_target(std::string_view name) {
    for (auto t : {CompareTarget::value, CompareTarget::version, CompareTarget::create_revision,
                   CompareTarget::mod_revision, CompareTarget::lease, CompareTarget::exists}) {
        if (target_name(t) == name) return t;
    }
    return std::nullopt;
}

std::optional<CompareResult> parse_result(std::string_view name) {
    for (auto r : {CompareResult::eq, CompareResult::ne, CompareResult::lt, CompareResult::gt}) {
        if (result_name(r) == name) return r;
    }
    return std::nullopt;
}

std::string_view map_key(const msgpack::object& key) {
    if (key.type != msgpack::type::STR) return {};
    return {key.via.str.ptr, key.via.str.size};
}

// {"key", "target", "result", and the operand under the target's name}.
Compare read_compare_map(detail::FieldReader& reader, const msgpack::object& object) {
    Compare c;
    std::optional<std::string> target, result;
    const msgpack::object* operand_value = nullptr;
    std::vector<std::pair<std::string_view, const msgpack::object*>> rest;
    for (const msgpack::object_kv& kv : reader.read_map(object, "compare")) {
        const std::string_view name = map_key(kv.key);
        if (name == "key") {
            c.key = reader.read_bytes(kv.val, "compare key", key_bytes_max);
        } else if (name == "target") {
            target = reader.read_bytes(kv.val, "compare target", 32);
        } else if (name == "result") {
            result = reader.read_bytes(kv.val, "compare result", 32);
        } else {
            rest.emplace_back(name, &kv.val);
        }
    }
    if (!reader.ok()) return c;
    const std::optional<CompareTarget> t = target ? parse_target(*target) : std::nullopt;
    const std::optional<CompareResult> r = result ? parse_result(*result) : std::nullopt;
    if (!t) {
        reader.fail(Status::bad_request, "compare target: missing or unknown");
        return c;
    }
    if (!r) {
        reader.fail(Status::bad_request, "compare result: missing or unknown (eq, ne, lt, gt)");
        return c;
    }
    c.target = t.value_or(CompareTarget::value);
    c.result = r.value_or(CompareResult::eq);
    for (const auto& [name, value] : rest) {
        if (name == target_name(c.target)) operand_value = value;
    }
    if (operand_value == nullptr) {
        reader.fail(Status::bad_request, "compare: operand `" +
                                             std::string(target_name(c.target)) + "` missing");
    } else if (c.target == CompareTarget::value) {
        c.value = reader.read_bytes(*operand_value, "compare value", value_bytes_max);
    } else if (c.target == CompareTarget::exists) {
        c.number = reader.read_bool(*operand_value, "compare exists") ? 1 : 0;
    } else {
        c.number = reader.read_uint(*operand_value, "compare operand");
    }
    return c;
}

// One txn operation, with the keys of the top-level request for its op.
TxnOp read_txn_op(detail::FieldReader& reader, const msgpack::object& object) {
    TxnOp op;
    std::optional<std::string> name, key, prefix;
    std::optional<std::uint64_t> limit;
    for (const msgpack::object_kv& kv : reader.read_map(object, "txn op")) {
        const std::string_view field = map_key(kv.key);
        if (field == "op") name = reader.read_bytes(kv.val, "txn op", 32);
        if (field == "key") key = reader.read_bytes(kv.val, "txn op key", key_bytes_max);
        if (field == "prefix") prefix = reader.read_bytes(kv.val, "txn op prefix", key_bytes_max);
        if (field == "value") op.value = reader.read_bytes(kv.val, "txn op value", value_bytes_max);
        if (field == "lease") op.lease = reader.read_uint(kv.val, "txn op lease");
        if (field == "prev") op.prev = reader.read_bool(kv.val, "txn op prev");
        if (field == "limit") limit = reader.read_uint(kv.val, "txn op limit");
    }
    if (!reader.ok()) return op;
    op.op = Op::status;  // refused by check_txn unless one of the four
    for (Op o : {Op::get, Op::range, Op::put, Op::del}) {
        if (name && op_name(o) == *name) op.op = o;
    }
    if (op.op == Op::range) {
        op.key = prefix.value_or("");
        op.limit = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(limit.value_or(range_limit_default), range_limit_max + 1));
    } else if (op.op == Op::del && prefix && !key) {
        if (prefix->empty()) reader.fail(Status::bad_request, "txn op prefix: empty");
        op.key = std::move(*prefix);
        op.prefix = true;
    } else {
        op.key = key.value_or("");
    }
    return op;
}

std::vector<TxnOp> read_txn_ops(detail::FieldReader& reader, const msgpack::object& object,
                                std::string_view what) {
    std::vector<TxnOp> ops;
    for (const msgpack::object& op : reader.read_array(object, what, 0)) {
        if (!reader.ok() || ops.size() > txn_ops_max) break;
        ops.push_back(read_txn_op(reader, op));
    }
    return ops;
}

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
    } else if (name == "lease") {
        fields.lease = reader.read_uint(value, name);
    } else if (name == "ttl_ms") {
        fields.ttl_ms = reader.read_uint(value, name);
    } else if (name == "prev") {
        fields.prev = reader.read_bool(value, name);
    } else if (name == "keys") {
        fields.keys = reader.read_bool(value, name);
    } else if (name == "mod_revision") {
        fields.mod_revision = reader.read_uint(value, name);
    } else if (name == "compare") {
        if (!fields.txn) fields.txn.emplace();
        fields.txn->compare.clear();
        for (const msgpack::object& c : reader.read_array(value, name, 0)) {
            if (!reader.ok() || fields.txn->compare.size() > txn_compares_max) break;
            fields.txn->compare.push_back(read_compare_map(reader, c));
        }
    } else if (name == "success" || name == "failure") {
        if (!fields.txn) fields.txn.emplace();
        (name == "success" ? fields.txn->success : fields.txn->failure) =
            read_txn_ops(reader, value, name);
    } else if (name == "name" || name == "queue") {
        fields.name = reader.read_bytes(value, name, coord_name_bytes_max + 1);
    } else if (name == "wait_ms") {
        fields.wait_ms = reader.read_uint(value, name);
    } else if (name == "keep") {
        fields.keep = reader.read_bool(value, name);
    } else if (name == "visibility_ms") {
        fields.visibility_ms = reader.read_uint(value, name);
    } else if (name == "token") {
        fields.token = reader.read_uint(value, name);
    } else if (name == "item") {
        fields.item = reader.read_uint(value, name);
    } else if (name == "receipt") {
        fields.receipt = reader.read_uint(value, name);
    } else if (name == "id") {
        fields.id = read_id(reader, value);
    }
}

std::optional<Op> parse_op(std::string_view name) {
    for (Op op : {Op::get, Op::put, Op::del, Op::cas, Op::range, Op::status, Op::watch_from,
                  Op::snapshot_read, Op::member_list, Op::member_add, Op::member_promote,
                  Op::member_remove, Op::transfer_leader, Op::lease_grant, Op::lease_keepalive,
                  Op::lease_revoke, Op::lease_info, Op::lease_list, Op::txn, Op::lock,
                  Op::unlock, Op::campaign, Op::proclaim, Op::resign, Op::leader,
                  Op::queue_put, Op::queue_get, Op::queue_ack, Op::queue_len, Op::queue_peek}) {
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
    const bool prefix_delete = op == Op::del && fields.prefix && !fields.key;
    const bool needs_key =
        op == Op::get || op == Op::put || (op == Op::del && !prefix_delete) || op == Op::cas;
    if (prefix_delete && fields.prefix->empty())
        return bad_request("prefix: empty (a delete by prefix needs one)");
    if (op == Op::del && fields.prefix && fields.key)
        return bad_request("key/prefix: give one for delete");
    if (needs_key && !fields.key)
        return bad_request("key: missing");
    if (needs_key && fields.key->empty())
        return bad_request("key: empty");
    if ((op == Op::put || op == Op::cas) && !fields.value)
        return bad_request("value: missing");
    if (op == Op::cas && fields.has_expected == fields.mod_revision.has_value())
        return bad_request("expected/mod_revision: give exactly one for cas");
    const bool needs_lease = op == Op::lease_keepalive || op == Op::lease_revoke ||
                             op == Op::lease_info;
    if (needs_lease && (!fields.lease || *fields.lease == 0))
        return bad_request("lease: missing (a lease id >= 1)");
    if (op == Op::lease_grant && !fields.ttl_ms)
        return bad_request("ttl_ms: missing");
    if (op == Op::lease_grant &&
        (*fields.ttl_ms < lease_ttl_ms_min || *fields.ttl_ms > lease_ttl_ms_max)) {
        return bad_request("ttl_ms: " + std::to_string(*fields.ttl_ms) + " not in " +
                           std::to_string(lease_ttl_ms_min) + ".." +
                           std::to_string(lease_ttl_ms_max));
    }
    if (op == Op::txn) {
        if (!fields.txn) return bad_request("txn: compare, success or failure missing");
        if (auto error = detail::check_txn(*fields.txn)) return error;
    }
    if (op == Op::watch_from && (!fields.from || *fields.from == 0))
        return bad_request("from: missing (a revision >= 1)");
    if (is_member_change(op) && (!fields.member_id || *fields.member_id == 0))
        return bad_request("member_id: missing (a node id >= 1)");
    if (op == Op::member_add && (!fields.peer || fields.peer->empty()))
        return bad_request("peer: missing (the new member's host:port)");
    return std::nullopt;
}

// Writes of keys under coord_prefix are the primitives' own.
std::optional<Error> check_not_coord(Op op, const RequestFields& fields) {
    const bool writes_key = op == Op::put || op == Op::del || op == Op::cas;
    if (writes_key && fields.key && is_coord_key(*fields.key))
        return bad_request("key: keys under _cabildo/ are written by locks, elections and queues "
                           "only");
    if (op == Op::del && !fields.key && fields.prefix && fields.prefix->starts_with(coord_prefix))
        return bad_request("prefix: keys under _cabildo/ are written by locks, elections and "
                           "queues only");
    if (op != Op::txn || !fields.txn) return std::nullopt;
    for (const auto* branch : {&fields.txn->success, &fields.txn->failure}) {
        for (const TxnOp& t : *branch) {
            const bool writes = t.op == Op::put || t.op == Op::del;
            if (writes && (t.prefix ? t.key.starts_with(coord_prefix) : is_coord_key(t.key)))
                return bad_request("txn op key: keys under _cabildo/ are written by locks, "
                                   "elections and queues only");
        }
    }
    return std::nullopt;
}

// name/queue, lease, key, token, item, receipt, wait_ms and visibility_ms.
std::optional<Error> check_coord(Op op, const RequestFields& fields) {
    if (!is_mutex_op(op) && !is_queue_op(op)) return std::nullopt;
    const std::string_view what = is_queue_op(op) ? "queue" : "name";
    const bool by_key = (op == Op::unlock || op == Op::resign) && fields.key && !fields.name;
    if (by_key) {
        const std::optional<MutexKind> kind = mutex_kind(*fields.key);
        const MutexKind wanted = op == Op::unlock ? MutexKind::lock : MutexKind::election;
        if (!waiter_base(*fields.key) || kind != wanted)
            return bad_request("key: not a waiter key of a " +
                               std::string(op == Op::unlock ? "lock" : "election"));
        return std::nullopt;
    }
    if (!fields.name) return bad_request(std::string(what) + ": missing");
    if (auto problem = check_coord_name(*fields.name))
        return bad_request(std::string(what) + ": " + *problem);
    const bool has_lease = fields.lease && *fields.lease != 0;
    const bool needs_lease = op == Op::lock || op == Op::campaign || op == Op::proclaim;
    if (needs_lease && !has_lease) return bad_request("lease: missing (a lease id >= 1)");
    // A token of 0 is no token (found by fuzzing: it was accepted, then
    // re-encoded without it and refused).
    if ((op == Op::unlock || op == Op::resign) && !has_lease && fields.token.value_or(0) == 0)
        return bad_request("lease/token: give `lease` or `token` with `name`, or `key`");
    if ((op == Op::proclaim || op == Op::queue_put) && !fields.value)
        return bad_request("value: missing");
    if (fields.wait_ms && *fields.wait_ms > wait_ms_max)
        return bad_request("wait_ms: more than " + std::to_string(wait_ms_max));
    if (op == Op::queue_get && fields.visibility_ms &&
        (*fields.visibility_ms < visibility_ms_min || *fields.visibility_ms > visibility_ms_max)) {
        return bad_request("visibility_ms: " + std::to_string(*fields.visibility_ms) + " not in " +
                           std::to_string(visibility_ms_min) + ".." +
                           std::to_string(visibility_ms_max));
    }
    if (op == Op::queue_ack && (!fields.item || *fields.item == 0 || !fields.receipt ||
                                *fields.receipt == 0)) {
        return bad_request("item/receipt: both required (>= 1)");
    }
    return std::nullopt;
}

void build_coord(RequestFields& fields, ClientRequest& request) {
    const Op op = request.op;
    if (!is_mutex_op(op) && !is_queue_op(op)) return;
    if (fields.name) request.name = std::move(*fields.name);
    const bool by_key = (op == Op::unlock || op == Op::resign) && fields.key && request.name.empty();
    if (by_key) request.key = std::move(*fields.key);
    if (!by_key && op != Op::leader && !is_queue_op(op)) request.lease = fields.lease.value_or(0);
    const bool has_value = op == Op::lock || op == Op::campaign || op == Op::proclaim ||
                           op == Op::queue_put;
    if (has_value) request.value = fields.value.value_or("");
    if (is_waiting_op(op)) request.wait_ms = static_cast<std::uint32_t>(fields.wait_ms.value_or(0));
    if (op == Op::lock || op == Op::campaign) request.keep = fields.keep.value_or(false);
    if (op == Op::queue_get) request.visibility_ms = fields.visibility_ms.value_or(visibility_ms_default);
    if ((op == Op::unlock || op == Op::resign) && !by_key) request.token = fields.token.value_or(0);
    if (op == Op::queue_ack) {
        request.item = *fields.item;
        request.receipt = *fields.receipt;
    }
}

// limit, consistency, session and seq.
std::optional<Error> check_options(const RequestFields& fields, ClientRequest& request) {
    // Fields an op does not use are type-checked but keep their defaults
    // (found by fuzzing: they were kept, so a request did not re-encode to
    // itself).
    const Op op = request.op;
    const bool uses_limit = op == Op::range || op == Op::watch_from || op == Op::lease_list;
    const bool uses_consistency = op == Op::get || op == Op::range;
    if (fields.limit && op == Op::lease_list && *fields.limit > lease_list_limit_max) {
        return bad_request("limit: more than " + std::to_string(lease_list_limit_max));
    }
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
    if (std::optional<Error> error = check_not_coord(*op, fields))
        return *error;
    if (std::optional<Error> error = check_coord(*op, fields))
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
    if (*op == Op::cas && fields.has_expected)
        request.expected = std::move(fields.expected);
    if (*op == Op::cas)
        request.mod_revision = fields.mod_revision;
    if (fields.prefix && (*op == Op::range || *op == Op::watch_from))
        request.prefix = std::move(*fields.prefix);
    if (*op == Op::del && !fields.key && fields.prefix) {
        request.prefix = std::move(*fields.prefix);
        request.delete_prefix = true;
    }
    const bool uses_lease = *op == Op::put || *op == Op::cas || *op == Op::lease_grant ||
                            *op == Op::lease_keepalive || *op == Op::lease_revoke ||
                            *op == Op::lease_info;
    if (uses_lease)
        request.lease = fields.lease.value_or(0);
    if (*op == Op::lease_grant)
        request.ttl_ms = *fields.ttl_ms;
    if (*op == Op::put)
        request.prev = fields.prev.value_or(false);
    if (*op == Op::lease_info)
        request.keys = fields.keys.value_or(false);
    if (*op == Op::lease_list)
        request.from = fields.from.value_or(0);
    if (*op == Op::txn)
        request.txn = std::move(fields.txn);
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
    build_coord(fields, request);
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

void pack_txn_ops(Packer& packer, const std::vector<TxnOp>& ops) {
    packer.pack_array(static_cast<std::uint32_t>(ops.size()));
    for (const TxnOp& op : ops) {
        const bool put = op.op == Op::put;
        const bool by_prefix = op.op == Op::range || op.prefix;
        packer.pack_map(2 + (put ? 3 : 0) + (op.op == Op::range ? 1 : 0));
        detail::pack_str(packer, "op");
        detail::pack_str(packer, op_name(op.op));
        detail::pack_str(packer, by_prefix ? "prefix" : "key");
        detail::pack_bin(packer, op.key);
        if (put) {
            detail::pack_str(packer, "value");
            detail::pack_bin(packer, op.value);
            detail::pack_str(packer, "lease");
            packer.pack_uint64(op.lease);
            detail::pack_str(packer, "prev");
            detail::pack_bool(packer, op.prev);
        }
        if (op.op == Op::range) {
            detail::pack_str(packer, "limit");
            packer.pack_uint32(op.limit);
        }
    }
}

void pack_txn_request(detail::MapWriter& writer, const Txn& txn) {
    Packer& compare = writer.key("compare");
    compare.pack_array(static_cast<std::uint32_t>(txn.compare.size()));
    for (const Compare& c : txn.compare) {
        compare.pack_map(4);
        detail::pack_str(compare, "key");
        detail::pack_bin(compare, c.key);
        detail::pack_str(compare, "target");
        detail::pack_str(compare, target_name(c.target));
        detail::pack_str(compare, "result");
        detail::pack_str(compare, result_name(c.result));
        detail::pack_str(compare, target_name(c.target));
        if (c.target == CompareTarget::value) {
            detail::pack_bin(compare, c.value);
        } else if (c.target == CompareTarget::exists) {
            detail::pack_bool(compare, c.number != 0);
        } else {
            compare.pack_uint64(c.number);
        }
    }
    pack_txn_ops(writer.key("success"), txn.success);
    pack_txn_ops(writer.key("failure"), txn.failure);
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

std::string_view target_name(CompareTarget target) {
    switch (target) {
        case CompareTarget::value: return "value";
        case CompareTarget::version: return "version";
        case CompareTarget::create_revision: return "create_revision";
        case CompareTarget::mod_revision: return "mod_revision";
        case CompareTarget::lease: return "lease";
        case CompareTarget::exists: return "exists";
    }
    return "unknown";
}

std::string_view result_name(CompareResult result) {
    switch (result) {
        case CompareResult::eq: return "eq";
        case CompareResult::ne: return "ne";
        case CompareResult::lt: return "lt";
        case CompareResult::gt: return "gt";
    }
    return "unknown";
}

bool is_command_op(Op op) {
    switch (op) {
    case Op::put: case Op::del: case Op::cas: case Op::txn: case Op::lease_grant:
    case Op::lease_keepalive: case Op::lease_revoke: case Op::lock: case Op::unlock:
    case Op::campaign: case Op::proclaim: case Op::resign: case Op::queue_put:
    case Op::queue_get: case Op::queue_ack:
        return true;
    default:
        return false;
    }
}

bool is_waiting_op(Op op) { return op == Op::lock || op == Op::campaign || op == Op::queue_get; }

bool is_mutex_op(Op op) {
    return op == Op::lock || op == Op::unlock || op == Op::campaign || op == Op::proclaim ||
           op == Op::resign || op == Op::leader;
}

bool is_queue_op(Op op) {
    return op == Op::queue_put || op == Op::queue_get || op == Op::queue_ack ||
           op == Op::queue_len || op == Op::queue_peek;
}

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
        case Op::lease_grant: return "lease_grant";
        case Op::lease_keepalive: return "lease_keepalive";
        case Op::lease_revoke: return "lease_revoke";
        case Op::lease_info: return "lease_info";
        case Op::lease_list: return "lease_list";
        case Op::txn: return "txn";
        case Op::lease_expire: return "lease_expire";
        case Op::lock: return "lock";
        case Op::unlock: return "unlock";
        case Op::campaign: return "campaign";
        case Op::proclaim: return "proclaim";
        case Op::resign: return "resign";
        case Op::leader: return "leader";
        case Op::queue_put: return "queue_put";
        case Op::queue_get: return "queue_get";
        case Op::queue_ack: return "queue_ack";
        case Op::queue_len: return "queue_len";
        case Op::queue_peek: return "queue_peek";
        case Op::wait_cancel: return "wait_cancel";
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
    if (op == Op::get || op == Op::put || (op == Op::del && !request.delete_prefix) ||
        op == Op::cas || ((op == Op::unlock || op == Op::resign) && request.name.empty())) {
        detail::pack_bin(writer.key("key"), request.key);
    }
    if (!request.name.empty())
        detail::pack_bin(writer.key(is_queue_op(op) ? "queue" : "name"), request.name);
    if (request.wait_ms != 0)
        writer.key("wait_ms").pack_uint32(request.wait_ms);
    if (request.keep)
        detail::pack_bool(writer.key("keep"), true);
    if (op == Op::queue_get)
        writer.key("visibility_ms").pack_uint64(request.visibility_ms);
    if (request.token != 0)
        writer.key("token").pack_uint64(request.token);
    if (op == Op::queue_ack) {
        writer.key("item").pack_uint64(request.item);
        writer.key("receipt").pack_uint64(request.receipt);
    }
    if (request.delete_prefix)
        detail::pack_bin(writer.key("prefix"), request.prefix);
    if (request.value)
        detail::pack_bin(writer.key("value"), *request.value);
    if (request.expected)
        detail::pack_optional_bin(writer.key("expected"), *request.expected);
    if (request.mod_revision)
        writer.key("mod_revision").pack_uint64(*request.mod_revision);
    if (request.lease != 0)
        writer.key("lease").pack_uint64(request.lease);
    if (op == Op::lease_grant)
        writer.key("ttl_ms").pack_uint64(request.ttl_ms);
    if (request.prev)
        detail::pack_bool(writer.key("prev"), true);
    if (request.keys)
        detail::pack_bool(writer.key("keys"), true);
    if (op == Op::lease_list) {
        writer.key("from").pack_uint64(request.from);
        writer.key("limit").pack_uint32(request.limit);
    }
    if (request.txn)
        pack_txn_request(writer, *request.txn);
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

std::uint32_t extract_wait_ms(const void* data, std::size_t size) {
    try {
        Result<msgpack::object_handle> handle =
            detail::unpack_frame(data, size, request_limits, "request");
        if (!handle || handle->get().type != msgpack::type::MAP) return 0;
        std::optional<Op> op;
        std::uint64_t wait = 0;
        const msgpack::object_map& map = handle->get().via.map;
        for (std::uint32_t i = 0; i < map.size; ++i) {
            const std::string_view name = map_key(map.ptr[i].key);
            const msgpack::object& value = map.ptr[i].val;
            if (name == "op" && value.type == msgpack::type::STR) {
                op = parse_op({value.via.str.ptr, value.via.str.size});
            } else if (name == "wait_ms" && value.type == msgpack::type::POSITIVE_INTEGER) {
                wait = value.via.u64;
            }
        }
        if (!op || !is_waiting_op(*op) || wait > wait_ms_max) return 0;
        return static_cast<std::uint32_t>(wait);
    } catch (const std::exception&) {
        return 0;
    }
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
        case Status::exists: return error_exists;
        case Status::permission_denied: return error_permission_denied;
        case Status::quota_exceeded: return error_quota_exceeded;
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
