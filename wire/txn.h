// Txn checks and the compact array form of a txn inside a replicated
// Command (command.cc). Internal to wire/; the request's map form is read in
// client_request.cc.
#pragma once

#include <optional>

#include "wire/client_messages.h"
#include "wire/decode_util.h"

namespace cabildo::wire::detail {

// Sizes, ops and operands a txn may hold (PROTOCOL.md, "txn"): too_large
// past txn_compares_max or txn_ops_max, bad_request otherwise.
std::optional<Error> check_txn(const Txn& txn);

// [compares, success, failure]; a compare is [key, target, result, value,
// number], an op [op, key, value, lease, flags (1 prev, 2 prefix), limit].
void pack_txn(msgpack::packer<msgpack::sbuffer>& packer, const Txn& txn);
Txn read_txn(FieldReader& reader, const msgpack::object& object);

}  // namespace cabildo::wire::detail
