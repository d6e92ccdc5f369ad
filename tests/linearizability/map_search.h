// map_search: the linearizability search (search.h) for a COMPONENT of a
// history: keys that multi-key operations (txn, delp) tie together, searched
// as one object whose state is the map of its keys' values (each a value or
// absent; every key starts absent). Locality (Herlihy & Wing) holds for
// such objects as for single keys: a history is linearizable exactly when
// the history of every component is, so the checker splits a history into
// components and searches each alone. Every operation is reduced to compares
// and two branches of steps; a get, put, del or cas is a txn of one key.
// Not here: building components, explanations (checker.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tests/linearizability/key_search.h"
#include "tests/linearizability/search.h"

namespace cabildo::lincheck {

// The component's keys are slots 0..n-1, in key order.
struct MapCompare {
    std::size_t slot = 0;
    ValueId value = absent_value;  // the slot must hold it (absent_value: be absent)
};

struct MapStep {
    enum class Kind { get, put, del, delp };
    Kind kind = Kind::get;
    std::size_t slot = 0;            // get, put, del
    std::vector<std::size_t> slots;  // delp: every slot whose key has the prefix
    ValueId value = absent_value;    // put: written; get: read, if read_known
    bool read_known = false;
    // del: 1 or 0, whether the key existed; delp: how many keys it deleted;
    // nullopt = not known.
    std::optional<std::uint64_t> count;
};

struct MapOp {
    std::size_t index = 0;  // into the caller's operation vector
    std::vector<MapCompare> compares;
    // Whether every compare held (the success branch ran); nullopt = not
    // known. An unknown op has no output: no succeeded, nothing read_known,
    // no count.
    std::optional<bool> succeeded;
    std::vector<MapStep> success;
    std::vector<MapStep> failure;
    bool unknown = false;
    std::int64_t call_ns = 0;
    std::int64_t return_ns = 0;  // ignored when unknown
};

struct MapSearchResult {
    SearchResult search;
    // The map at search.state (a violation's deepest point), one ValueId a slot.
    std::vector<ValueId> state;
};

MapSearchResult search_map(const std::vector<MapOp>& ops, std::size_t slots,
                           const SearchLimits& limits);

}  // namespace cabildo::lincheck
