#!/usr/bin/env bash
# Shows that the simulator has teeth: applies each deliberate bug in
# tests/sim/mutations/ to a scratch copy of the repository, builds the
# simulator there and reports the first violating seed and how long the
# search took. The bugs never touch this checkout.
#
# The state machine's rules (leases: an expiry judged on a renewal that is
# no longer the last does nothing) live outside the Raft core, which is all
# the simulator runs: the bugs in tests/node/mutations/ must instead make
# the state machine's unit tests (node_test) fail.
#
# Usage: tests/sim/mutation_check.sh [SEEDS]    (default 20000 seeds per bug)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seeds=${1:-20000}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One scratch copy of HEAD, built once; each bug is applied to it, the
# target rebuilt (only what the bug touches recompiles) and the bug reverted.
copy="$scratch/repo"
mkdir -p "$copy"
git -C "$repo" archive HEAD | tar -x -C "$copy"
cmake -S "$copy" -B "$copy/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$copy/build" --target cabildo-sim node_test >/dev/null

status=0
for patch in "$repo"/tests/sim/mutations/*.patch; do
    name=$(basename "$patch" .patch)
    (cd "$copy" && git apply "$patch")
    cmake --build "$copy/build" --target cabildo-sim >/dev/null
    start=$(date +%s.%N)
    if out=$("$copy/build/tests/sim/cabildo-sim" --seeds "$seeds" 2>&1); then
        echo "$name: NOT FOUND in $seeds seeds"
        status=1
    else
        end=$(date +%s.%N)
        seed=$(grep -o 'seed=[0-9]*' <<<"$out" | head -1 || true)
        [ -n "$seed" ] || seed=$(grep -o 'start [0-9]*' <<<"$out" | head -1 | sed 's/start /seed=/')
        what=$(grep -m1 -E 'VIOLATION|assertion failed' <<<"$out" | sed 's/^VIOLATION seed=[0-9]* nodes=[0-9]*: //')
        printf '%s: found %s after %.2f s: %s\n' "$name" "$seed" "$(awk "BEGIN{print $end - $start}")" "$what"
    fi
    (cd "$copy" && git apply -R "$patch")
done
for patch in "$repo"/tests/node/mutations/*.patch; do
    name=$(basename "$patch" .patch)
    (cd "$copy" && git apply "$patch")
    cmake --build "$copy/build" --target node_test >/dev/null
    if out=$("$copy/build/tests/node/node_test" --gtest_filter='StateMachine*:LeaseClock*:Coord*' 2>&1); then
        echo "$name: NOT FOUND by node_test"
        status=1
    else
        failed=$(grep -m1 -o '^\[  FAILED  \] [A-Za-z_.]*' <<<"$out" | sed 's/^\[  FAILED  \] //')
        echo "$name: found by node_test: $failed"
    fi
    (cd "$copy" && git apply -R "$patch")
done
exit $status
