// op_builders: short constructors for hand-written histories in the tests,
// so a table row reads like the history it describes. Test-only helpers, not
// part of the checker's API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace cabildo::lincheck::test {

using Value = std::optional<std::string>;
inline const Value absent = std::nullopt;

inline Operation make_op(std::uint64_t client, Operation::Kind kind, std::string key,
                         std::int64_t call_ns, std::int64_t return_ns) {
    Operation op;
    op.client = client;
    op.kind = kind;
    op.key = std::move(key);
    op.call_ns = call_ns;
    op.return_ns = return_ns;
    return op;
}

inline Operation get(std::uint64_t client, std::string key, Value read, std::int64_t call_ns,
                     std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::get, std::move(key), call_ns, return_ns);
    op.value = std::move(read);
    return op;
}

inline Operation put(std::uint64_t client, std::string key, std::string value, std::int64_t call_ns,
                     std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::put, std::move(key), call_ns, return_ns);
    op.value = std::move(value);
    return op;
}

inline Operation del(std::uint64_t client, std::string key, std::optional<bool> existed,
                     std::int64_t call_ns, std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::del, std::move(key), call_ns, return_ns);
    op.succeeded = existed;
    return op;
}

inline Operation cas(std::uint64_t client, std::string key, Value expected, std::string value,
                     std::optional<bool> succeeded, std::int64_t call_ns, std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::cas, std::move(key), call_ns, return_ns);
    op.expected = std::move(expected);
    op.value = std::move(value);
    op.succeeded = succeeded;
    return op;
}

inline Operation delp(std::uint64_t client, std::string prefix,
                      std::optional<std::uint64_t> deleted, std::int64_t call_ns,
                      std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::delp, std::move(prefix), call_ns, return_ns);
    op.deleted = deleted;
    return op;
}

// txn pieces: a compare, and the operations of a branch.
inline TxnCompare holds(std::string key, Value value) {
    return TxnCompare{std::move(key), std::move(value)};
}

inline TxnOp tput(std::string key, std::string value) {
    TxnOp op;
    op.kind = TxnOp::Kind::put;
    op.key = std::move(key);
    op.value = std::move(value);
    return op;
}

// A get whose read is `read` (absent = read absent); tget_unread: not known.
inline TxnOp tget(std::string key, Value read) {
    TxnOp op;
    op.kind = TxnOp::Kind::get;
    op.key = std::move(key);
    op.value = std::move(read);
    op.read_known = true;
    return op;
}

inline TxnOp tget_unread(std::string key) {
    TxnOp op;
    op.kind = TxnOp::Kind::get;
    op.key = std::move(key);
    return op;
}

inline TxnOp tdel(std::string key, std::optional<bool> existed) {
    TxnOp op;
    op.kind = TxnOp::Kind::del;
    op.key = std::move(key);
    op.existed = existed;
    return op;
}

inline Operation txn(std::uint64_t client, std::vector<TxnCompare> compares,
                     std::vector<TxnOp> success, std::vector<TxnOp> failure,
                     std::optional<bool> succeeded, std::int64_t call_ns, std::int64_t return_ns) {
    Operation op = make_op(client, Operation::Kind::txn, "", call_ns, return_ns);
    op.compares = std::move(compares);
    op.success = std::move(success);
    op.failure = std::move(failure);
    op.succeeded = succeeded;
    return op;
}

// Removes every output: what a client that did not get an answer knows.
inline Operation without_outputs(Operation op) {
    op.succeeded = std::nullopt;
    op.deleted = std::nullopt;
    if (op.kind == Operation::Kind::get)
        op.value = std::nullopt;
    for (std::vector<TxnOp>* branch : {&op.success, &op.failure}) {
        for (TxnOp& t : *branch) {
            if (t.kind == TxnOp::Kind::get) {
                t.read_known = false;
                t.value = std::nullopt;
            }
            t.existed = std::nullopt;
        }
    }
    return op;
}

// The same operation, but the client never learned its fate.
inline Operation unknown(Operation op) {
    op = without_outputs(std::move(op));
    op.outcome = Operation::Outcome::unknown;
    op.return_ns = never_returned_ns;
    return op;
}

// The same operation, but it definitely did not take effect.
inline Operation failed(Operation op) {
    op = without_outputs(std::move(op));
    op.outcome = Operation::Outcome::failed;
    return op;
}

}  // namespace cabildo::lincheck::test
