// The simulation as a CTest: a fixed range of seeds on every run.
//
// CABILDO_SIM_SEEDS overrides how many (CI default below), CABILDO_SEED runs
// just that one seed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/sim/simulation.h"

namespace cabildo::sim {
namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

void run_range(std::uint64_t first, std::uint64_t count, std::size_t nodes) {
    SimOptions options;
    options.nodes = nodes;
    for (std::uint64_t seed = first; seed < first + count; ++seed) {
        const SimReport r = run_simulation(seed, options);
        ASSERT_FALSE(r.violation.has_value())
            << *r.violation << "\nreproduce with: cabildo-sim --start " << seed
            << " --nodes " << nodes << " --seeds 1 --trace";
        ASSERT_GT(r.committed, 0u) << "seed " << seed << " committed nothing";
    }
}

TEST(Simulation, ThreeNodes) {
    if (const char* seed = std::getenv("CABILDO_SEED")) {
        run_range(std::strtoull(seed, nullptr, 10), 1, 3);
        return;
    }
    run_range(1, env_or("CABILDO_SIM_SEEDS", 4000), 3);
}

TEST(Simulation, FiveNodes) {
    if (std::getenv("CABILDO_SEED") != nullptr) GTEST_SKIP() << "single seed run";
    run_range(100001, env_or("CABILDO_SIM_SEEDS", 4000), 5);
}

TEST(Simulation, SevenNodes) {
    if (std::getenv("CABILDO_SEED") != nullptr) GTEST_SKIP() << "single seed run";
    run_range(200001, env_or("CABILDO_SIM_SEEDS", 4000) / 2, 7);
}

}  // namespace
}  // namespace cabildo::sim
