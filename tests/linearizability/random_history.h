// random_history: seeded histories of a simulated linearizable key-value
// store, for testing the checker, and a way to break one.
//
// The simulated store is an atomic map: each operation that takes effect does
// so at one instant, its linearization point, drawn uniformly inside
// [call, return] (for an unknown operation: anywhere after its call, or
// never). Outputs are computed by applying the operations in the order of
// those points, so every history generated is linearizable by construction.
// Every write writes a value never written before, which makes a corrupted
// read provably wrong. Test-only code; not a model of Cabildo's timing.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tests/linearizability/history.h"

namespace cabildo::lincheck::test {

struct RandomHistoryOptions {
    std::uint64_t clients = 4;
    std::uint64_t ops_per_client = 20;
    std::uint64_t keys = 2;
    std::uint64_t unknown_percent = 5;  // of all operations
    std::uint64_t failed_percent = 5;
    std::int64_t latency_ns_max = 1'000;
    std::int64_t think_ns_max = 300;  // pause between a return and the next call
    // Multi-key operations, in percent of all operations. A txn has at most
    // one compare, one to three operations on success and up to two on
    // failure, on random keys; a delp deletes the prefix "k" (every key) or
    // the name of one key. Keys are "k0", "k1", ...
    std::uint64_t txn_percent = 0;
    std::uint64_t delp_percent = 0;
};

// One random number in [0, n) from the generator. Ours, not a std
// distribution, so that a seed means the same history with any standard
// library (STYLE §6).
std::uint64_t uniform(std::mt19937_64& rng, std::uint64_t n);

// Each client issues its operations one after another; an unknown one counts
// as returned when the client gives up, at its return time.
std::vector<Operation> random_history(std::mt19937_64& rng, const RandomHistoryOptions& options);

enum class Corruption {
    stale_read,      // a get now returns a value provably overwritten before it began
    unwritten_read,  // a get now returns a value nobody wrote (no stale read was possible)
    none,            // no ok get with a known value to corrupt
};

// Changes the value of one ok get (a plain get, not a txn's) so that the
// history is NOT linearizable.
// A stale read is preferred: a value written by P, where P returned before an
// ok write W began and W returned before the get began.
Corruption corrupt_one_read(std::mt19937_64& rng, std::vector<Operation>& ops);

}  // namespace cabildo::lincheck::test
