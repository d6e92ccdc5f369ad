// key_search: the linearizability search for the history of ONE key, over a
// register model (a value or absent; every key starts absent).
//
// This is the Wing-Gong algorithm with Lowe's memoisation, as in Knossos and
// Porcupine: a depth-first search over the operations in call order that
// linearizes a pending operation whose call precedes every other pending
// return, and backtracks (undoing the register change) when the earliest
// pending return cannot be passed. A cache of (set of linearized operations,
// register state) prunes states already explored: from equal pairs the rest
// of the search is identical (visited_cache.h also prunes pairs that differ
// only by unknown operations having taken effect). Splitting a history by key and searching each
// key alone is sound because keys are independent registers (Herlihy & Wing
// locality). Not here: parsing, splitting by key, explanations (checker.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tests/linearizability/history.h"

namespace cabildo::lincheck {

// A value of one key's history, interned to a small integer by the caller.
using ValueId = std::int32_t;
inline constexpr ValueId absent_value = -1;

// One operation of one key, reduced to what the search needs. Only ok and
// unknown operations reach the search: failed ones, and gets that are not
// ok, are dropped before.
struct KeyOp {
    std::size_t index = 0;  // into the caller's operation vector
    Operation::Kind kind = Operation::Kind::get;
    ValueId value = absent_value;     // put/cas: written; get: read
    ValueId expected = absent_value;  // cas only
    std::optional<bool> succeeded;    // cas/del output; nullopt = matches anything
    // Invariant: an unknown op has no output (succeeded is nullopt, and it is
    // never a get), and it is treated as returning at +infinity: it may take
    // effect at any point after its call, or never.
    bool unknown = false;
    std::int64_t call_ns = 0;
    std::int64_t return_ns = 0;  // ignored when unknown
};

// The register model: the state after `op` takes effect in `state`, or
// nullopt if the output `op` reported is impossible in `state`.
std::optional<ValueId> step_register(ValueId state, const KeyOp& op);

struct SearchLimits {
    std::chrono::steady_clock::time_point deadline;
    std::size_t cache_entries_max = 0;  // memory bound: give up beyond it
};

struct KeySearchResult {
    enum class Verdict { linearizable, violation, gave_up };
    Verdict verdict = Verdict::linearizable;
    std::size_t cache_entries = 0;

    // For a violation: the deepest point the search reached. Positions are
    // into the KeyOp vector. `linearized` is in linearization order, `state`
    // is the register after it, `blocker` is the earliest pending return
    // (it must take effect before it returns, and neither it nor anything
    // else pending can), and `pending` are the other ops that could have
    // been linearized next there.
    std::vector<std::size_t> linearized;
    ValueId state = absent_value;
    std::size_t blocker = 0;
    std::vector<std::size_t> pending;
};

KeySearchResult search_key(const std::vector<KeyOp>& ops, const SearchLimits& limits);

}  // namespace cabildo::lincheck
