#!/usr/bin/env bash
# Fuzzes every wire/ decoder for a bounded time (libFuzzer, ASan + UBSan).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]     # default 10
#
# Configures and builds build-fuzz/ with clang if needed, writes the seed
# corpora, replays tests/fuzz/regressions/*.hex, then runs each target in
# turn for SECONDS_PER_TARGET. Prints executions and findings per target and
# exits non-zero if any regression or fuzz run crashed (the crashing input's
# path is printed). Environment:
#   CABILDO_FUZZ_BUILD_DIR   build directory (default build-fuzz)
#   CABILDO_FUZZ_JOBS        build parallelism (default 1)
#   CABILDO_FUZZ_TARGETS     space-separated subset of targets
#   CABILDO_FUZZ_ARGS        extra libFuzzer flags (e.g. "-jobs=2 -workers=2")
# See tests/fuzz/README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

seconds=${1:-10}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]" >&2
    exit 2
fi
build=${CABILDO_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${CABILDO_FUZZ_JOBS:-1}
targets=${CABILDO_FUZZ_TARGETS:-"fuzz_raft_message fuzz_client_request fuzz_client_reply \
fuzz_command fuzz_event fuzz_storage_records fuzz_snapshot_header"}

if [ ! -f "$build/build.ninja" ]; then
    cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null || exit 1
fi
cmake --build "$build" -j "$jobs" >/dev/null || {
    cmake --build "$build" -j 1  # again, to show the error
    exit 1
}
build=$(cd "$build" && pwd)

"$build/make_corpus" seeds "$build/corpus" || exit 1
rm -rf "$build/regressions"
"$build/make_corpus" regressions tests/fuzz/regressions "$build/regressions" || exit 1
mkdir -p "$build/crashes" "$build/logs"

failed=0
summary=()
for target in $targets; do
    binary="$build/$target"
    log="$build/logs/$target.log"
    regress_log="$build/logs/$target.regressions.log"
    : >"$regress_log"

    # Every regression input must now pass: run each one once.
    regress_total=0
    regress_failed=0
    for input in "$build/regressions/$target"/*; do
        [ -f "$input" ] || continue
        regress_total=$((regress_total + 1))
        if ! "$binary" "$input" >>"$regress_log" 2>&1; then
            regress_failed=$((regress_failed + 1))
            echo "FAIL $target: regression tests/fuzz/regressions/$target.$(basename "$input").hex"
            echo "  reproduce: $binary $input"
        fi
    done

    mkdir -p "$build/crashes/$target"
    # shellcheck disable=SC2086  # CABILDO_FUZZ_ARGS is a list of flags
    "$binary" "$build/corpus/$target" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 \
        -dict="$root/tests/fuzz/wire.dict" -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$target/" ${CABILDO_FUZZ_ARGS:-} >"$log" 2>&1
    status=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    corpus_size=$(find "$build/corpus/$target" -type f | wc -l)
    result="ok"
    if [ "$status" -ne 0 ]; then
        result="CRASH (exit $status)"
        echo "FAIL $target: fuzzing found a crash"
        grep -E 'assertion failed|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error|differs|changed|rejected:' "$log" | head -5
        grep -o 'Test unit written to .*' "$log" | sed "s|^|$target: |"
    fi
    [ "$regress_failed" -ne 0 ] && echo "  log: $regress_log"
    [ "$status" -ne 0 ] && echo "  log: $log"
    if [ "$regress_failed" -ne 0 ] || [ "$status" -ne 0 ]; then
        failed=1
    fi
    summary+=("$(printf '%-22s %12s execs  corpus %5s  regressions %d/%d passed  %s' \
        "$target" "${executions:-?}" "$corpus_size" $((regress_total - regress_failed)) \
        "$regress_total" "$result")")
done

echo "== fuzz: ${seconds}s per target =="
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED (crashing inputs under $build/crashes/, logs under $build/logs/)"
    exit 1
fi
echo "fuzz: no findings"
