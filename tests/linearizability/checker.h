// checker: decides whether a key-value history is linearizable, and if not,
// explains where it breaks.
//
// The store is a map of keys to values (a value or absent; EVERY KEY STARTS
// ABSENT, so a history must begin on an empty store). The history is split
// into components: keys tied together by multi-key operations (a txn ties
// the keys it compares or may write or read; a delp ties every key with its
// prefix that some operation may have written) and the operations on them.
// Each component is searched alone: over a register when it is one key with
// single-key operations only (key_search.h, the fast path), else over the
// map of its keys (map_search.h). The first component, in the byte order of
// its smallest key, that is not linearizable is reported. Failed operations
// are ignored; reads (gets, txns without writes) that failed or are unknown
// are dropped; unknown writes may take effect at any time after their call,
// or never. Not here: the text format (history.h) and the command line
// (lincheck_main.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace cabildo::lincheck {

// Memory bound on one component's search: past this many explored (set, state)
// pairs the checker gives up and reports timed_out, as it does past the time
// budget. Each pair costs about 100 bytes for a history of a few hundred ops.
inline constexpr std::size_t cache_entries_max = std::size_t{1} << 22;

struct CheckResult {
    // True only when every component was searched to the end and linearizes.
    bool linearizable = false;
    // The component that is not linearizable, or whose search ran out of
    // budget: its smallest key in `key` and all its keys in `keys` (for a
    // component without keys, `key` is its delp's prefix and `keys` empty).
    std::string key;
    std::vector<std::string> keys;
    // For a violation: the component's keys, the operations linearized just
    // before the point the search could not get past, the values there, and
    // the pending operations, with times relative to the history's first
    // call. For a timeout: which component and how far the search got.
    std::string explanation;
    // Operations that reached a search (failed ops and dropped reads
    // excluded), over the components checked so far, and their keys.
    std::size_t operations_checked = 0;
    std::size_t keys_checked = 0;
    std::size_t components_checked = 0;
    // The budget (or cache_entries_max) ran out: the history is neither
    // claimed linearizable nor claimed broken.
    bool timed_out = false;
};

// Precondition: every op passes validate_operation() (history.h).
// `budget` covers the whole history, all components together.
CheckResult check_history(const std::vector<Operation>& ops, std::chrono::milliseconds budget);

}  // namespace cabildo::lincheck
