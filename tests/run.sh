#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then
#   1. all of CTest in a normal build: unit, simulation (10,000 seeds),
#      integration (real node processes), faults (kill/pause/partition/
#      disk failure + linearizability checking);
#   2. the unit and simulation tests again in an ASan+UBSan build (fewer
#      seeds: ~10x slower there). The multi-process suites assert timing
#      (failover within 1 s) and run in the normal build only;
#   3. a short libFuzzer run of every wire decoder;
#   4. tests/sim/mutation_check.sh: every deliberate bug in
#      tests/sim/mutations/ must be caught by the simulator.
# The last line counts the CTest tests of both builds.
#
#   tests/run.sh             # everything
#   tests/run.sh --quick     # step 1 only
# CABILDO_SIM_SEEDS=N sets the seeds per simulation test (default 4000).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# ctest's own count ("... tests failed out of N"), for the summary line.
count() { grep -o 'tests failed out of [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$'; }

./setup.sh
echo "== tests (Release) =="
ctest --test-dir build --output-on-failure -j "$jobs" | tee "$log"
passed=$(count)

if [ "${1:-}" != "--quick" ]; then
    ./setup.sh --sanitize
    echo "== tests (ASan + UBSan) =="
    CABILDO_SIM_SEEDS=${CABILDO_SIM_SEEDS_SANITIZE:-150} \
        ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE "integration|faults" \
        | tee "$log"
    passed=$((passed + $(count)))

    echo "== fuzzing (short) =="
    tests/fuzz/run.sh "${CABILDO_FUZZ_SECONDS:-10}"

    echo "== mutations (the simulator must catch each) =="
    tests/sim/mutation_check.sh "${CABILDO_MUTATION_SEEDS:-20000}"
fi
echo "tests: $passed passed, 0 failed"
