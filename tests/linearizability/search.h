// search: the linearizability search itself, over any sequential model whose
// states are small integers (StateId). key_search.h runs it over a register
// (one key); map_search.h over a map of several registers (the keys that
// multi-key operations tie together).
//
// This is the Wing-Gong algorithm with Lowe's memoisation, as in Knossos and
// Porcupine: a depth-first search over the operations in call order that
// linearizes a pending operation whose call precedes every other pending
// return, and backtracks (undoing the state change) when the earliest pending
// return cannot be passed. A cache of (set of linearized operations, state)
// prunes configurations already explored: from equal pairs the rest of the
// search is identical (visited_cache.h also prunes pairs that differ only by
// unknown operations having taken effect). Not here: what the operations do
// (the model), parsing, splitting a history, explanations (checker.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cabildo::lincheck {

// A state of the model, interned to a small integer by the model.
using StateId = std::int32_t;

// The timing of one operation, all the search knows of it besides the model.
// Only ok and unknown operations reach the search: failed ones, and reads
// that are not ok, are dropped before.
struct SearchOp {
    std::size_t index = 0;  // into the caller's operation vector
    // An unknown op has no output (the model checks none), and it is treated
    // as returning at +infinity: it may take effect at any point after its
    // call, or never.
    bool unknown = false;
    std::int64_t call_ns = 0;
    std::int64_t return_ns = 0;  // ignored when unknown
};

// The sequential specification: what an operation does to a state.
class SearchModel {
public:
    virtual ~SearchModel() = default;
    // The state after op `op` (a position into the SearchOp vector) takes
    // effect in `state`, or nullopt if the output it reported is impossible
    // there. Must be a function of (state, op): the search calls it again on
    // states it already saw.
    virtual std::optional<StateId> step(StateId state, std::size_t op) = 0;
};

struct SearchLimits {
    std::chrono::steady_clock::time_point deadline;
    std::size_t cache_entries_max = 0;  // memory bound: give up beyond it
};

struct SearchResult {
    enum class Verdict { linearizable, violation, gave_up };
    Verdict verdict = Verdict::linearizable;
    std::size_t cache_entries = 0;

    // For a violation: the deepest point the search reached. Positions are
    // into the SearchOp vector. `linearized` is in linearization order,
    // `state` is the model's state after it, `blocker` is the earliest
    // pending return (it must take effect before it returns, and neither it
    // nor anything else pending can), and `pending` are the other ops that
    // could have been linearized next there.
    std::vector<std::size_t> linearized;
    StateId state = 0;
    std::size_t blocker = 0;
    std::vector<std::size_t> pending;
};

SearchResult search_history(const std::vector<SearchOp>& ops, SearchModel& model, StateId initial,
                            const SearchLimits& limits);

}  // namespace cabildo::lincheck
