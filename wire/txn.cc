// Txn checks and the Command form of a txn; see txn.h.
#include "wire/txn.h"

#include <string>

namespace cabildo::wire {

bool is_read_only(const Txn& txn) {
    const auto reads = [](const std::vector<TxnOp>& ops) {
        for (const TxnOp& op : ops) {
            if (op.op != Op::get && op.op != Op::range) return false;
        }
        return true;
    };
    return reads(txn.success) && reads(txn.failure);
}

namespace detail {

namespace {

constexpr std::uint8_t flag_prev = 1;
constexpr std::uint8_t flag_prefix = 2;

Error bad(std::string detail) { return Error{Status::bad_request, std::move(detail)}; }

std::optional<Error> check_compare(const Compare& c) {
    if (c.key.empty() || c.key.size() > key_bytes_max) return bad("compare key: size out of range");
    if (c.target > CompareTarget::exists) return bad("compare target: unknown");
    if (c.result > CompareResult::gt) return bad("compare result: unknown");
    if (c.value.size() > value_bytes_max) return Error{Status::too_large, "compare value: too large"};
    if (c.target != CompareTarget::value && !c.value.empty()) {
        return bad("compare value: set for a target other than value");
    }
    if (c.target == CompareTarget::exists) {
        if (c.result != CompareResult::eq && c.result != CompareResult::ne) {
            return bad("compare exists: only eq or ne");
        }
        if (c.number > 1) return bad("compare exists: true or false");
    }
    if (c.target == CompareTarget::value && c.number != 0) return bad("compare: number for value");
    return std::nullopt;
}

std::optional<Error> check_op(const TxnOp& op) {
    const bool keyed = op.op == Op::get || op.op == Op::put || op.op == Op::del;
    if (!keyed && op.op != Op::range) return bad("txn op: only get, range, put and delete");
    if (keyed && op.key.empty()) return bad("txn op key: empty");
    if (op.key.size() > key_bytes_max) return Error{Status::too_large, "txn op key: too large"};
    if (op.value.size() > value_bytes_max) return Error{Status::too_large, "txn op value: too large"};
    if (op.op != Op::put && (!op.value.empty() || op.lease != 0 || op.prev)) {
        return bad("txn op: value, lease and prev are for put");
    }
    if (op.prefix && op.op != Op::del) return bad("txn op: prefix is for delete");
    const std::uint32_t limit = op.op == Op::range ? op.limit : range_limit_default;
    if (limit == 0 || limit > range_limit_max) return bad("txn op limit: out of range");
    return std::nullopt;
}

TxnOp read_op(FieldReader& reader, const msgpack::object& object) {
    TxnOp op;
    const std::span<const msgpack::object> f = reader.read_array(object, "txn op", 6);
    if (!reader.ok()) return op;
    const std::uint64_t code = reader.read_uint(f[0], "txn op");
    op.op = code <= static_cast<std::uint64_t>(op_max) ? static_cast<Op>(code) : Op::status;
    op.key = reader.read_bin(f[1], "txn op key", key_bytes_max);
    op.value = reader.read_bin(f[2], "txn op value", value_bytes_max);
    op.lease = reader.read_uint(f[3], "txn op lease");
    const std::uint64_t flags = reader.read_uint(f[4], "txn op flags");
    op.prev = (flags & flag_prev) != 0;
    op.prefix = (flags & flag_prefix) != 0;
    const std::uint64_t limit = reader.read_uint(f[5], "txn op limit");
    op.limit = limit <= range_limit_max ? static_cast<std::uint32_t>(limit) : 0;
    return op;
}

Compare read_compare(FieldReader& reader, const msgpack::object& object) {
    Compare c;
    const std::span<const msgpack::object> f = reader.read_array(object, "compare", 5);
    if (!reader.ok()) return c;
    c.key = reader.read_bin(f[0], "compare key", key_bytes_max);
    c.target = static_cast<CompareTarget>(std::min<std::uint64_t>(reader.read_uint(f[1], "target"), 255));
    c.result = static_cast<CompareResult>(std::min<std::uint64_t>(reader.read_uint(f[2], "result"), 255));
    c.value = reader.read_bin(f[3], "compare value", value_bytes_max);
    c.number = reader.read_uint(f[4], "compare number");
    return c;
}

void pack_ops(msgpack::packer<msgpack::sbuffer>& packer, const std::vector<TxnOp>& ops) {
    packer.pack_array(static_cast<std::uint32_t>(ops.size()));
    for (const TxnOp& op : ops) {
        packer.pack_array(6);
        packer.pack_uint8(static_cast<std::uint8_t>(op.op));
        pack_bin(packer, op.key);
        pack_bin(packer, op.value);
        packer.pack_uint64(op.lease);
        packer.pack_uint8(static_cast<std::uint8_t>((op.prev ? flag_prev : 0) |
                                                    (op.prefix ? flag_prefix : 0)));
        packer.pack_uint32(op.limit);
    }
}

std::vector<TxnOp> read_ops(FieldReader& reader, const msgpack::object& object,
                            std::string_view what) {
    std::vector<TxnOp> ops;
    for (const msgpack::object& op : reader.read_array(object, what, 0)) {
        if (!reader.ok() || ops.size() > txn_ops_max) break;
        ops.push_back(read_op(reader, op));
    }
    return ops;
}

}  // namespace

std::optional<Error> check_txn(const Txn& txn) {
    if (txn.compare.size() > txn_compares_max) {
        return Error{Status::too_large, "compare: more than " + std::to_string(txn_compares_max)};
    }
    if (txn.success.size() + txn.failure.size() > txn_ops_max) {
        return Error{Status::too_large,
                     "success/failure: more than " + std::to_string(txn_ops_max) + " operations"};
    }
    for (const Compare& c : txn.compare) {
        if (auto error = check_compare(c)) return error;
    }
    for (const auto* branch : {&txn.success, &txn.failure}) {
        for (const TxnOp& op : *branch) {
            if (auto error = check_op(op)) return error;
        }
    }
    return std::nullopt;
}

void pack_txn(msgpack::packer<msgpack::sbuffer>& packer, const Txn& txn) {
    packer.pack_array(3);
    packer.pack_array(static_cast<std::uint32_t>(txn.compare.size()));
    for (const Compare& c : txn.compare) {
        packer.pack_array(5);
        pack_bin(packer, c.key);
        packer.pack_uint8(static_cast<std::uint8_t>(c.target));
        packer.pack_uint8(static_cast<std::uint8_t>(c.result));
        pack_bin(packer, c.value);
        packer.pack_uint64(c.number);
    }
    pack_ops(packer, txn.success);
    pack_ops(packer, txn.failure);
}

Txn read_txn(FieldReader& reader, const msgpack::object& object) {
    Txn txn;
    const std::span<const msgpack::object> f = reader.read_array(object, "txn", 3);
    if (!reader.ok()) return txn;
    for (const msgpack::object& c : reader.read_array(f[0], "compare", 0)) {
        if (!reader.ok() || txn.compare.size() > txn_compares_max) break;
        txn.compare.push_back(read_compare(reader, c));
    }
    txn.success = read_ops(reader, f[1], "success");
    txn.failure = read_ops(reader, f[2], "failure");
    return txn;
}

}  // namespace detail

}  // namespace cabildo::wire
