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
//   kind       get | put | del | cas | delp | txn (txn: see below)
//   key        a byte string (below); never '-'. delp: the prefix
//   value      byte string or '-': put/cas the value written; get the value
//              read, '-' = the key was absent; del/delp always '-'
//   expected   cas: the expected value, '-' = the key must be absent;
//              otherwise always '-'
//   succeeded  cas / del output: 1 = succeeded / existed, 0 = did not,
//              '-' = not known; delp output: how many keys it deleted, in
//              decimal, or '-' = not known; get/put always '-'
//   outcome    ok | failed | unknown
//   call_ns    signed decimal, nanoseconds on any clock shared by all clients
//   return_ns  signed decimal >= call_ns, or '-' = never returned (+infinity);
//              '-' only for outcome unknown
//
// Byte strings are 'x' followed by lowercase or uppercase hex, two digits a
// byte: "x" alone is the empty string, "x6b31" is "k1". In Python:
// 'x' + s.encode().hex(). A '-' is never a string, so absent and empty differ.
//
// delp deletes every key starting with the prefix, all at one instant (the
// node's `delete` with `prefix`). The harness must only record one that
// deleted every matching key (the node's `more` false).
//
// txn (the node's `txn`): a list of compares, then the operations of the
// success branch if every compare holds, else those of the failure branch,
// all at one instant; the branch's operations run in order and see the ones
// before them. Its fields:
//
//   client txn COMPARES SUCCESS FAILURE succeeded outcome call_ns return_ns
//
//   COMPARES   '-' = none, else comma-separated KEY=VALUE: the key must hold
//              VALUE (a byte string), or be absent when VALUE is '-'
//   SUCCESS,   '-' = none, else comma-separated operations:
//   FAILURE      put:KEY:VALUE   writes VALUE (a byte string)
//                get:KEY:READ    READ = the value read, '-' = absent, '?' = not known
//                del:KEY:EXISTED EXISTED = 1 / 0 (the node's `deleted`), '?' = not known
//   succeeded  1 = the compares held (the success branch ran), 0 = they did
//              not (the failure branch ran), '-' = not known
//
// Only the branch that ran has outputs: every READ and EXISTED of the other
// branch, and of both when succeeded is '-' or the outcome is not ok, is '?'.
// A txn names at least one key. Example: if k1 holds "a", put "b" in k1 and
// k2, else read k2; k1 did not hold "a", and k2 held "c":
//   3 txn x6b31=x61 put:x6b31:x62,put:x6b32:x62 get:x6b32:x63 0 ok 400 650
//
// Outcomes: ok = the output is known. failed = the operation definitely did
// not take effect (the checker ignores it). unknown = timeout or lost
// connection: it may take effect at any time after its call, or never, and its
// output is unknown, so a get must carry value '-' and succeeded must be '-'.
// A failed operation carries no output either.
//
// Key metadata (version, mod_revision, ...) is not part of the format: the
// model is a map of values, and a version would tell apart every subset of
// unknown writes that took effect, which the search relies on merging.
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

// txn: the key must hold `value` (nullopt: must be absent).
struct TxnCompare {
    std::string key;
    std::optional<std::string> value;
};

// One operation of a txn branch.
struct TxnOp {
    enum class Kind { get, put, del };

    Kind kind = Kind::get;
    std::string key;
    // put: the value written. get: the value read when read_known (nullopt =
    // absent); nullopt when not read_known.
    std::optional<std::string> value;
    bool read_known = false;      // get only
    std::optional<bool> existed;  // del only: whether the key existed; nullopt = unknown
};

struct Operation {
    enum class Kind { get, put, del, cas, delp, txn };
    enum class Outcome { ok, failed, unknown };

    std::uint64_t client = 0;
    Kind kind = Kind::get;
    // delp: the prefix. txn: empty (its keys are in compares and branches).
    std::string key;
    // put/cas: the value written. get: the value read (nullopt = absent).
    std::optional<std::string> value;
    // cas: the value required (nullopt = the key must be absent).
    std::optional<std::string> expected;
    // cas: whether it swapped. del: whether the key existed. txn: whether
    // the compares held. nullopt = unknown.
    std::optional<bool> succeeded;
    // delp: how many keys it deleted; nullopt = unknown.
    std::optional<std::uint64_t> deleted;
    // txn only.
    std::vector<TxnCompare> compares;
    std::vector<TxnOp> success;
    std::vector<TxnOp> failure;
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
//   client 3: txn if "k1" = "a" then put "k1" "b", put "k2" "b" else get "k2" => "c"
//     => failed compare  [+0.400ms, +0.650ms]   (on one line)
// show_key names the key of a get, put, del or cas too (`cas "k" "a" -> "b"`);
// a delp always shows its prefix and a txn its keys.
std::string describe_operation(const Operation& op, std::int64_t origin_ns, bool show_key = false);

// A byte string for a human: quoted if printable ASCII, else x + hex;
// nullopt prints as "absent".
std::string describe_value(const std::optional<std::string>& value);

}  // namespace cabildo::lincheck
