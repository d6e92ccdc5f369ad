// cabildo-sim: runs the deterministic cluster simulation over a range of
// seeds and prints what it checked and how fast.
//
//   cabildo-sim --seeds 20000            # seeds 1..20000
//   cabildo-sim --start 4242 --seeds 1 --trace   # replay one seed, with a trace
//
// Exit status 1 on the first violation, after printing the seed to replay.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

#include "tests/sim/simulation.h"

namespace {

std::uint64_t current_seed = 0;

// A broken invariant inside the core aborts: say which seed it was.
void on_abort(int) {
    char line[96];
    const int n = std::snprintf(line, sizeof line, "reproduce with: cabildo-sim --start %llu --seeds 1\n",
                                static_cast<unsigned long long>(current_seed));
    if (n > 0) (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Cabildo deterministic Raft simulation"};
    std::uint64_t start = 1;
    std::uint64_t seeds = 1000;
    cabildo::sim::SimOptions options;
    app.add_option("--start", start, "first seed");
    app.add_option("--seeds", seeds, "how many consecutive seeds");
    app.add_option("--nodes", options.nodes, "cluster size (0: 3, 5 or 7 by seed)");
    app.add_option("--fault-ticks", options.fault_ticks, "ticks of faults per seed");
    app.add_flag("--trace", options.trace, "print every event to stderr");
    CLI11_PARSE(app, argc, argv);
    std::signal(SIGABRT, on_abort);

    const auto began = std::chrono::steady_clock::now();
    std::uint64_t committed = 0, acked = 0, reads = 0, crashes = 0, partitions = 0, leaders = 0;
    std::uint64_t liveness_max = 0, snapshots = 0, installs = 0, compactions = 0;
    std::uint64_t midway = 0, stalls = 0, changes = 0;
    for (std::uint64_t seed = start; seed < start + seeds; ++seed) {
        current_seed = seed;
        const cabildo::sim::SimReport r = cabildo::sim::run_simulation(seed, options);
        if (r.violation) {
            fmt::print(stderr, "VIOLATION seed={} nodes={}: {}\nreproduce with: cabildo-sim --start {} --seeds 1 --trace\n",
                       seed, r.nodes, *r.violation, seed);
            return 1;
        }
        committed += r.committed;
        acked += r.writes_acked;
        reads += r.reads_checked;
        crashes += r.crashes;
        partitions += r.partitions;
        leaders += r.leaders;
        snapshots += r.snapshots_taken;
        installs += r.snapshots_installed;
        compactions += r.compactions;
        midway += r.crashes_midway;
        stalls += r.storage_stalls;
        changes += r.membership_changes;
        liveness_max = std::max(liveness_max, r.liveness_ticks);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    fmt::print("seeds {}..{}: {} runs, 0 violations, {:.1f} s, {:.0f} seeds/s\n", start,
               start + seeds - 1, seeds, seconds, seeds / seconds);
    fmt::print("checked: {} committed entries, {} acknowledged writes, {} ReadIndex reads, "
               "{} leaders elected, {} crashes, {} partitions; liveness after heal <= {} ticks\n",
               committed, acked, reads, leaders, crashes, partitions, liveness_max);
    fmt::print("snapshots: {} taken, {} compactions, {} installed by followers\n", snapshots,
               compactions, installs);
    fmt::print("ready cycle: {} crashes inside it, {} stalls on failed storage\n", midway,
               stalls);
    fmt::print("membership: {} changes (add, promote, remove)\n", changes);
    return 0;
}
