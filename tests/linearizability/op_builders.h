// op_builders: short constructors for hand-written histories in the tests,
// so a table row reads like the history it describes. Test-only helpers, not
// part of the checker's API.
#pragma once

#include <optional>
#include <string>

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

// The same operation, but the client never learned its fate.
inline Operation unknown(Operation op) {
    op.outcome = Operation::Outcome::unknown;
    op.return_ns = never_returned_ns;
    op.succeeded = std::nullopt;
    if (op.kind == Operation::Kind::get)
        op.value = std::nullopt;
    return op;
}

// The same operation, but it definitely did not take effect.
inline Operation failed(Operation op) {
    op.outcome = Operation::Outcome::failed;
    op.succeeded = std::nullopt;
    if (op.kind == Operation::Kind::get)
        op.value = std::nullopt;
    return op;
}

}  // namespace cabildo::lincheck::test
