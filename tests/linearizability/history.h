// history: the operations a test harness observed against Cabildo, and the
// text format they travel in from the harness (Python, C++) to the checker.
//
// A history is what clients saw, not what the cluster did: each operation has
// its call and return times on one clock, and its outcome. This file only
// holds, validates, parses and prints histories; deciding whether one is
// linearizable is checker.h.
//
// Text format: one operation per line, nine fields separated by spaces or tabs.
// Blank lines and lines starting with '#' are ignored.
//
//   client kind key value expected succeeded outcome call_ns return_ns
//
//   client     unsigned decimal id of the client that issued the operation
//   kind       get | put | del | cas
//   key        a byte string (below); never '-'
//   value      byte string or '-': put/cas the value written; get the value
//              read, '-' = the key was absent; del always '-'
//   expected   cas: the expected value, '-' = the key must be absent;
//              otherwise always '-'
//   succeeded  cas / del output: 1 = succeeded / existed, 0 = did not,
//              '-' = not known; get/put always '-'
//   outcome    ok | failed | unknown
//   call_ns    signed decimal, nanoseconds on any clock shared by all clients
//   return_ns  signed decimal >= call_ns, or '-' = never returned (+infinity);
//              '-' only for outcome unknown
//
// Byte strings are 'x' followed by lowercase or uppercase hex, two digits a
// byte: "x" alone is the empty string, "x6b31" is "k1". In Python:
// 'x' + s.encode().hex(). A '-' is never a string, so absent and empty differ.
//
// Outcomes: ok = the output is known. failed = the operation definitely did
// not take effect (the checker ignores it). unknown = timeout or lost
// connection: it may take effect at any time after its call, or never, and its
// output is unknown, so a get must carry value '-' and succeeded must be '-'.
// A failed operation carries no output either.
//
// Example (client 1 writes "a" to "k", client 2 reads it concurrently):
//   1 put x6b x61 - - ok 100 250
//   2 get x6b x61 - - ok 120 300
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/result.h"

namespace cabildo::lincheck {

// The return time of an operation that never returned; '-' in the text.
inline constexpr std::int64_t never_returned_ns = std::numeric_limits<std::int64_t>::max();

struct Operation {
    enum class Kind { get, put, del, cas };
    enum class Outcome { ok, failed, unknown };

    std::uint64_t client = 0;
    Kind kind = Kind::get;
    std::string key;
    // put/cas: the value written. get: the value read (nullopt = absent).
    std::optional<std::string> value;
    // cas: the value required (nullopt = the key must be absent).
    std::optional<std::string> expected;
    // cas: whether it swapped. del: whether the key existed. nullopt = unknown.
    std::optional<bool> succeeded;
    Outcome outcome = Outcome::ok;
    std::int64_t call_ns = 0;
    // never_returned_ns when unknown and the harness did not record a time.
    // The checker treats every unknown operation as returning at +infinity.
    std::int64_t return_ns = 0;
};

const char* kind_name(Operation::Kind kind);
const char* outcome_name(Operation::Outcome outcome);

// Why `op` breaks the rules above (which fields each kind and outcome may
// carry, times in order), or nullopt if it is well formed. check_history()
// requires well-formed operations; parse_history() only produces them.
std::optional<std::string> validate_operation(const Operation& op);

// Parses the text format. On error: Status::bad_request and a detail that
// starts with "line N: " (1-based).
Result<std::vector<Operation>> parse_history(std::string_view text);

// The text format: parse_history(format_history(ops)) gives back `ops`.
std::string format_history(const std::vector<Operation>& ops);

// One operation for a human, with times relative to origin_ns, e.g.
//   client 2: cas "a" -> "b" => true  [+1.250ms, +2.000ms]
std::string describe_operation(const Operation& op, std::int64_t origin_ns);

// A byte string for a human: quoted if printable ASCII, else x + hex;
// nullopt prints as "absent".
std::string describe_value(const std::optional<std::string>& value);

}  // namespace cabildo::lincheck
