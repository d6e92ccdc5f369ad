#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs CTest in a normal
# build, then again in an ASan+UBSan build (with fewer simulation seeds, which
# are ~10x slower there).
#
#   tests/run.sh             # everything
#   tests/run.sh --quick     # normal build only
# CABILDO_SIM_SEEDS=N sets the seeds per simulation test (default 4000; the 7-node test runs half).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

./setup.sh
echo "== tests (RelWithDebInfo) =="
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${1:-}" != "--quick" ]; then
    ./setup.sh --sanitize
    echo "== tests (ASan + UBSan) =="
    CABILDO_SIM_SEEDS=${CABILDO_SIM_SEEDS_SANITIZE:-150} \
        ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi
