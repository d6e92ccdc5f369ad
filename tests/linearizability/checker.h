// checker: decides whether a key-value history is linearizable, and if not,
// explains where it breaks.
//
// Each key is an independent register (a value or absent; EVERY KEY STARTS
// ABSENT, so a history must begin on an empty store). The history is split by
// key and each key is searched alone (key_search.h); the first key, in byte
// order, that is not linearizable is reported. Failed operations are ignored;
// gets that failed or are unknown are dropped; unknown writes may take effect
// at any time after their call, or never. Not here: the text format
// (history.h) and the command line (lincheck_main.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "tests/linearizability/history.h"

namespace cabildo::lincheck {

// Memory bound on one key's search: past this many explored (set, state)
// pairs the checker gives up and reports timed_out, as it does past the time
// budget. Each pair costs about 100 bytes for a history of a few hundred ops.
inline constexpr std::size_t cache_entries_max = std::size_t{1} << 22;

struct CheckResult {
    // True only when every key was searched to the end and linearizes.
    bool linearizable = false;
    // The key that is not linearizable, or whose search ran out of budget.
    std::string key;
    // For a violation: the key, the operations linearized just before the
    // point the search could not get past, the register there, and the
    // pending operations, with times relative to the history's first call.
    // For a timeout: which key and how far the search got.
    std::string explanation;
    // Operations that reached a search (failed ops and dropped gets excluded),
    // over the keys checked so far.
    std::size_t operations_checked = 0;
    std::size_t keys_checked = 0;
    // The budget (or cache_entries_max) ran out: the history is neither
    // claimed linearizable nor claimed broken.
    bool timed_out = false;
};

// Precondition: every op passes validate_operation() (history.h).
// `budget` covers the whole history, all keys together.
CheckResult check_history(const std::vector<Operation>& ops, std::chrono::milliseconds budget);

}  // namespace cabildo::lincheck
