// Rng: the only source of randomness the core may use, passed in by reference.
//
// The core never seeds itself, so a run is determined by its inputs. We map
// the engine's output ourselves instead of using std distributions, whose
// results differ between standard libraries (a seed must replay everywhere).
#pragma once

#include <cstdint>
#include <limits>
#include <random>

#include "node/raft/assert.h"

namespace cabildo::raft {

class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}

    // Uniform in [0, n). Rejection sampling avoids modulo bias.
    std::uint64_t uniform(std::uint64_t n) {
        CABILDO_ASSERT(n > 0, "uniform(0)");
        const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
        const std::uint64_t limit = max - max % n;
        std::uint64_t x = engine_();
        while (x >= limit) x = engine_();
        return x % n;
    }

    // True with probability numerator/denominator.
    bool chance(std::uint64_t numerator, std::uint64_t denominator) {
        return uniform(denominator) < numerator;
    }

private:
    std::mt19937_64 engine_;
};

}  // namespace cabildo::raft
