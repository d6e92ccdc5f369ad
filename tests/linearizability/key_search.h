// key_search: the linearizability search (search.h) for the history of ONE
// key, over a register model (a value or absent; every key starts absent).
// The checker's fast path: splitting a history by key and searching each key
// alone is sound because keys are independent registers (Herlihy & Wing
// locality), as long as no operation touches several keys (map_search.h
// takes those). Not here: parsing, splitting, explanations (checker.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tests/linearizability/history.h"
#include "tests/linearizability/search.h"

namespace cabildo::lincheck {

// A value of one key's (or one component's) history, interned to a small
// integer by the caller.
using ValueId = std::int32_t;
inline constexpr ValueId absent_value = -1;

// One operation of one key, reduced to what the search needs: a get, put,
// del or cas. Only ok and unknown operations reach the search: failed ones,
// and gets that are not ok, are dropped before.
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

// The search's state is the register's ValueId itself.
using KeySearchResult = SearchResult;

KeySearchResult search_key(const std::vector<KeyOp>& ops, const SearchLimits& limits);

}  // namespace cabildo::lincheck
