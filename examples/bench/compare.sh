#!/usr/bin/env bash
# Cabildo side by side with every anchor on this machine: etcd 3.4, ZooKeeper
# 3.8, NATS JetStream KV 2.9.10 without fsync (as shipped) and with fsync on
# every write (the anchor's patched build), and Cabildo, one cluster at a time.
#
#   examples/bench/compare.sh [--rounds 1] [--duration 10s] [--long-duration 60s]
#       [--systems etcd,zookeeper,nats,nats-sync,cabildo]
#       [--workloads put1,put16,put64,put256,getl,gets,mixed,put1m,watch,watchstream]
#       [--out DIR] [--quick] [--long-keys 1000000] [--watchers 1000] [--watch-rate 5000]
#       [--idle-wait 60] [--zk-warmup 5s]
#   examples/bench/compare.sh --table DIR      # only (re)write DIR/table.md
#
# Workloads (256 B values, 10k keys unless said otherwise; clients pinned
# round-robin to the 3 nodes, so followers forward to the leader):
#   put1 put16 put64    put, c=1/16/64 (one connection per client)
#   put256              put, c=256 over 64 connections
#   getl gets           get c=64: the strongest read each system has / its local read
#                       (kinds in table.md's legend); every key put once first
#   mixed               c=64, 50% put, 50% the strongest read (prefilled)
#   put1m               put c=256 over 64 connections, --long-keys keys, --long-duration
#   watch               --watchers watchers, puts at --watch-rate/s (Cabildo: exact watches)
#   watchstream         the same, Cabildo's stream watch (Cabildo only)
# --quick: 2 s runs, long run 5 s over 100k keys, 100 watchers at 1000/s,
# ZooKeeper warm-up 2 s (a smoke test, not a benchmark).
#
# Order: for each round, system and workload: wait (up to --idle-wait s) for
# the machine to be idle (< 0.3 busy cores over 1 s), sync, start a fresh
# cluster, prefill outside the measurement (ZooKeeper: an unrecorded put c=16
# warm-up of --zk-warmup, which also creates the znodes), measure, stop and
# wipe. Every raw output lands in DIR (default build/bench-compare/<time>),
# with results.jsonl (one line per run; appended to, so several invocations
# with the same --out make one table) and table.md.
#
# Needs: build/client/bench/cabildo-bench, build/node/cabildo-node and
# build/client/cabildo (cmake --build build --target cabildo-bench cabildo-node
# cabildo); the anchors' packages and load generators (examples/bench/anchors/
# build.sh builds the extended ones, with mixed and watch, into
# build/anchors/bin; without them the anchors' original kvbench, zkbench and
# natsbench are used and mixed/watch are recorded as n/a). Figures only.
# shellcheck disable=SC2016  # anchor_env takes shell code in single quotes, expanded in its subshell
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
anchors=${ANCHORS_DIR:-$(cd "$root/../shared/anchors" && pwd)}
table_py=$root/examples/bench/compare_table.py
cluster=$root/examples/bench/cabildo-cluster.sh
bench_bin=$root/build/client/bench/cabildo-bench
cabildo_endpoints="tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"
ext=$root/build/anchors/bin   # extended load generators (examples/bench/anchors/build.sh)
all_systems=(etcd zookeeper nats nats-sync cabildo)
all_workloads=(put1 put16 put64 put256 getl gets mixed put1m watch watchstream)

rounds=1 duration="" long_duration="" long_keys="" watchers="" watch_rate="" quick=""
idle_wait=60 zk_warmup="" out="" table_only="" systems_arg="" workloads_arg=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --long-duration) long_duration=$2; shift 2 ;;
        --long-keys) long_keys=$2; shift 2 ;;
        --watchers) watchers=$2; shift 2 ;;
        --watch-rate) watch_rate=$2; shift 2 ;;
        --systems) systems_arg=$2; shift 2 ;;
        --workloads) workloads_arg=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --idle-wait) idle_wait=$2; shift 2 ;;
        --zk-warmup) zk_warmup=$2; shift 2 ;;
        --table) table_only=$2; shift 2 ;;
        -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$table_only" ]; then
    /usr/bin/python3 "$table_py" table "$table_only" | tee "$table_only/table.md"
    exit 0
fi
if [ -n "$quick" ]; then
    : "${duration:=2s}" "${long_duration:=5s}" "${long_keys:=100000}" "${watchers:=100}"
    : "${watch_rate:=1000}" "${zk_warmup:=2s}"
fi
: "${duration:=10s}" "${long_duration:=60s}" "${long_keys:=1000000}" "${watchers:=1000}"
: "${watch_rate:=5000}" "${zk_warmup:=5s}"
IFS=, read -r -a systems <<<"${systems_arg:-$(IFS=,; echo "${all_systems[*]}")}"
IFS=, read -r -a workloads <<<"${workloads_arg:-$(IFS=,; echo "${all_workloads[*]}")}"
out=${out:-$root/build/bench-compare/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

log() { echo "[compare $(date +%H:%M:%S)] $*" | tee -a "$out/log.txt" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }
contains() { local x=$1; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
for s in "${systems[@]}"; do contains "$s" "${all_systems[@]}" || die "unknown system $s"; done
for w in "${workloads[@]}"; do contains "$w" "${all_workloads[@]}" || die "unknown workload $w"; done

# ------------------------------------------------------------ workloads

# 1000000 -> 1M, 100000 -> 100k, 5000 -> 5k
count_label() {
    awk -v n="$1" 'BEGIN { if (n >= 1e6 && n % 1e6 == 0) printf "%dM", n / 1e6;
        else if (n >= 1e3 && n % 1e3 == 0) printf "%dk", n / 1e3; else printf "%d", n }'
}

# Seconds in a Go-style duration (10s, 2m, 500ms, 1m30s).
dur_s() {
    awk -v d="$1" 'BEGIN { t = 0; while (match(d, /^[0-9.]+(ms|s|m|h)/)) {
        u = substr(d, RSTART, RLENGTH); n = u + 0; sub(/^[0-9.]+/, "", u);
        t += n * (u == "ms" ? 0.001 : u == "s" ? 1 : u == "m" ? 60 : 3600);
        d = substr(d, RLENGTH + 1) } printf "%d", t + 0.999 }'
}

# The workload's fields: name|kind|clients|connections|keys|duration
workload() {
    case "$1" in
        put1) echo "put c=1|put|1|1|10000|$duration" ;;
        put16) echo "put c=16|put|16|16|10000|$duration" ;;
        put64) echo "put c=64|put|64|64|10000|$duration" ;;
        put256) echo "put c=256 (64 conns)|put|256|64|10000|$duration" ;;
        getl) echo "get linearizable c=64|getl|64|64|10000|$duration" ;;
        gets) echo "get serializable c=64|gets|64|64|10000|$duration" ;;
        mixed) echo "mixed 50/50 c=64|mixed|64|64|10000|$duration" ;;
        put1m) echo "put c=256 $(count_label "$long_keys") keys ($(dur_s "$long_duration") s)|put|256|64|$long_keys|$long_duration" ;;
        watch) echo "watch fan-out $watchers @ $(count_label "$watch_rate")/s|watch|1|1|10000|$duration" ;;
        watchstream) echo "watch fan-out $watchers @ $(count_label "$watch_rate")/s, stream|watch|1|1|10000|$duration" ;;
    esac
}

# ------------------------------------------------------------ binaries

first_exec() { local f; for f in "$@"; do [ -x "$f" ] && { echo "$f"; return 0; }; done; echo ""; }
kvbench=$(first_exec "$ext/kvbench" "$root/build/etcd-anchor/kvbench" "$anchors/etcd/bin/kvbench")
zkbench=$(first_exec "$ext/zkbench" /tmp/zookeeper-anchor-out/bin/zkbench "$anchors/zookeeper/bin/zkbench")
# The nats anchor's start-cluster.sh runs $ANCHOR_OUT/bin/natsbench (bucket setup) and
# $ANCHOR_OUT/bin/nats-server-syncalways; examples/bench/anchors/build.sh builds them into
# build/anchors/nats-anchor-out. The anchors' env.sh would otherwise pick the (read-only)
# anchor folder, which looks writable to root: always pass ANCHOR_OUT.
nats_out=""
for d in "${NATS_ANCHOR_OUT:-$root/build/anchors/nats-anchor-out}" /tmp/nats-anchor-out; do
    [ -x "$d/bin/natsbench" ] && { nats_out=$d; break; }
done
natsbench=$(first_exec "$ext/natsbench" "$nats_out/bin/natsbench" "$anchors/nats/bin/natsbench")
[ -n "$nats_out" ] || nats_out=$( [ -n "$natsbench" ] && dirname "$(dirname "$natsbench")" || echo /tmp/nats-anchor-out)
nats_syncalways=$(first_exec "$nats_out/bin/nats-server-syncalways" "$ext/nats-server-syncalways" \
    /tmp/nats-anchor-out/bin/nats-server-syncalways)
zk_out=$( [ -n "$zkbench" ] && dirname "$(dirname "$zkbench")" || echo /tmp/zookeeper-anchor-out)

loadgen_of() {
    case "$1" in
        etcd) echo "$kvbench" ;; zookeeper) echo "$zkbench" ;; nats|nats-sync) echo "$natsbench" ;;
        cabildo) echo "$bench_bin" ;;
    esac
}
is_extended() { [ "$(loadgen_of "$1")" = "$ext/$(basename "$(loadgen_of "$1")")" ]; }

anchor_build_hint() {
    if [ -x "$root/examples/bench/anchors/build.sh" ]; then
        echo "examples/bench/anchors/build.sh"
    else
        echo "ANCHOR_OUT=/tmp/$1-anchor-out $anchors/$1/scripts/build.sh (set ANCHOR_OUT: as root the anchor dir looks writable)"
    fi
}

check_needs() {
    local s missing=()
    for s in "${systems[@]}"; do
        case "$s" in
            cabildo)
                for f in "$bench_bin" "${CABILDO_NODE:-$root/build/node/cabildo-node}" "$root/build/client/cabildo"; do
                    [ -x "$f" ] || missing+=("$f: cmake --build build --target cabildo-bench cabildo-node cabildo")
                done ;;
            etcd)
                command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
                    missing+=("etcd, etcdctl: apt-get install etcd-server etcd-client (or $(anchor_build_hint etcd))")
                [ -n "$kvbench" ] || missing+=("kvbench: $( [ -x "$root/examples/bench/anchors/build.sh" ] &&
                    echo examples/bench/anchors/build.sh || echo "examples/bench/compare-etcd.sh builds build/etcd-anchor/kvbench")") ;;
            zookeeper)
                [ -r /usr/share/java/zookeeper.jar ] && command -v java >/dev/null ||
                    missing+=("ZooKeeper (java, /usr/share/java/zookeeper.jar): $(anchor_build_hint zookeeper)")
                [ -n "$zkbench" ] || missing+=("zkbench: $(anchor_build_hint zookeeper)") ;;
            nats|nats-sync)
                [ -x /usr/sbin/nats-server ] && command -v curl >/dev/null ||
                    missing+=("nats-server, curl: $(anchor_build_hint nats)")
                [ -n "$natsbench" ] || missing+=("natsbench: $(anchor_build_hint nats)")
                [ "$s" = nats ] || [ -n "$nats_syncalways" ] ||
                    missing+=("nats-server-syncalways (patched): $(anchor_build_hint nats)") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    printf 'missing, build it first:\n' >&2
    printf '  %s\n' "${missing[@]}" | sort -u >&2
    exit 1
}

# ------------------------------------------------------------ clusters

anchor_dir() { case "$1" in nats-sync) echo "$anchors/nats" ;; *) echo "$anchors/$1" ;; esac; }

# Runs the shell code "$*" in a subshell with the system's anchor env.sh sourced
# (callers quote it in single quotes: it expands there).
anchor_env() {
    local s=$1; shift
    (
        export ANCHOR_OUT
        ANCHOR_OUT=$( [ "$s" = zookeeper ] && echo "$zk_out" || echo "$nats_out")
        [ -z "$nats_syncalways" ] || export NATS_BIN_SYNCALWAYS=$nats_syncalways
        # shellcheck source=/dev/null
        source "$(anchor_dir "$s")/scripts/env.sh"
        eval "$*"
    )
}

endpoints_of() {
    case "$1" in
        etcd) anchor_env etcd 'echo "$ETCD_ENDPOINTS"' ;;
        zookeeper) anchor_env zookeeper 'echo "$ZK_ENDPOINTS"' ;;
        nats|nats-sync) anchor_env "$1" 'echo "$NATS_ENDPOINTS"' ;;
    esac
}

pidmap_of() {
    case "$1" in
        etcd) anchor_env etcd etcd_pidmap ;;
        zookeeper) anchor_env zookeeper zk_pidmap ;;
        nats|nats-sync) anchor_env "$1" nats_pidmap ;;
    esac
}

cluster_start() {
    case "$1" in
        cabildo) "$cluster" start ;;
        nats) anchor_env nats '"$ANCHOR_HOME/scripts/start-cluster.sh" --sync default' ;;
        nats-sync) anchor_env nats-sync '"$ANCHOR_HOME/scripts/start-cluster.sh" --sync always' ;;
        *) anchor_env "$1" '"$ANCHOR_HOME/scripts/start-cluster.sh"' ;;
    esac
}

cluster_stop() {
    case "$1" in
        cabildo) "$cluster" stop ;;
        *) anchor_env "$1" '"$ANCHOR_HOME/scripts/stop-cluster.sh" --wipe' ;;
    esac
}

running="" loadgen_pid=""
cleanup() {
    if [ -n "$loadgen_pid" ]; then  # timeout passes the TERM on to the load generator
        kill -TERM "$loadgen_pid" 2>/dev/null || true
        wait "$loadgen_pid" 2>/dev/null || true
    fi
    if [ -n "$running" ]; then
        echo "[compare] stopping the $running cluster" >&2
        cluster_stop "$running" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# ------------------------------------------------------------ measuring

# "busy all" jiffies of the whole machine (idle and iowait are not busy).
machine_ticks() {
    awk '/^cpu /{b=0;a=0;for(i=2;i<=NF;i++){a+=$i;if(i!=5&&i!=6)b+=$i};print b,a}' /proc/stat
}

# As the anchors' quiet_wait: up to --idle-wait s until < 0.3 busy cores over
# 1 s. Sets idle_cores and idle_ok.
quiet_wait() {
    local _ b0 a0 b1 a1
    idle_cores=0 idle_ok=1
    [ "$idle_wait" -gt 0 ] || return 0
    for _ in $(seq "$idle_wait"); do
        read -r b0 a0 < <(machine_ticks)
        sleep 1
        read -r b1 a1 < <(machine_ticks)
        idle_cores=$(awk -v b=$((b1 - b0)) -v a=$((a1 - a0)) -v n="$(nproc)" \
            'BEGIN { printf "%.2f", a ? n * b / a : 0 }')
        if awk -v x="$idle_cores" 'BEGIN { exit !(x < 0.3) }'; then
            echo "idle-before-run $1 cores=$idle_cores" >>"$out/notes.txt"
            return 0
        fi
    done
    idle_ok=0
    echo "WARNING: machine busy ($idle_cores cores) before run $1 - results may be noisy" |
        tee -a "$out/notes.txt" >&2
}

# Runs a load generator (stdout to $2, stderr to $3) killed after $1 s, as a
# child that cleanup can stop; returns its exit code.
run_limited() {
    local limit=$1 stdout=$2 stderr=$3 rc=0
    shift 3
    timeout -k 10 "$limit" "$@" >"$stdout" 2>"$stderr" &
    loadgen_pid=$!
    wait "$loadgen_pid" || rc=$?
    loadgen_pid=""
    return "$rc"
}

# CPU seconds (user + sys) of the given PIDs so far.
cpu_seconds() {
    local ticks=0 pid
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

# The load generator's mode for a workload kind.
go_mode() {
    case "$1:$2" in
        *:put) echo put ;;
        etcd:getl) echo get-l ;;
        etcd:gets) echo get-s ;;
        zookeeper:getl) echo sync-get ;;
        zookeeper:gets) echo get ;;
        nats*:getl) echo get-leader ;;
        nats*:gets) echo get ;;
        *:mixed) echo mixed ;;
        *:watch) echo watch ;;
    esac
}

# Sets status and note from a load generator's exit code and stderr.
judge_exit() {
    local rc=$1 stderr=$2
    if [ "$rc" = 0 ]; then status=ok; return; fi
    if grep -qiE 'unknown mode|flag provided but not defined|not in \{|not expected|invalid value' "$stderr" 2>/dev/null; then
        status=n/a note="mode missing"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status=failed note="timed out (see $(basename "$stderr"))"
    else
        status=failed note="exit $rc: $(tail -n 1 "$stderr" 2>/dev/null | cut -c1-120)"
    fi
}

# ZooKeeper: an unrecorded put c=16 run right after start (JIT warm-up) that
# also creates the znodes (zkbench's put is a Set on an existing znode).
zk_warm() {
    local tag=$1 keys=$2 eps rc=0
    eps=$(endpoints_of zookeeper)
    run_limited $(($(dur_s "$zk_warmup") + 1800)) "$out/$tag.warmup.out" "$out/$tag.warmup.stderr" \
        "$zkbench" --endpoints "$eps" --mode put --clients 16 --conns 16 --duration "$zk_warmup" \
        --key-space "$keys" --val-size 256 || rc=$?
    return $rc
}

# One measurement with kvbench, zkbench or natsbench. Sets status and note.
run_go() {
    local tag=$1 s=$2 kind=$3 clients=$4 conns=$5 keys=$6 dur=$7 bin args=() rc=0
    bin=$(loadgen_of "$s")
    args=(--endpoints "$(endpoints_of "$s")" --pids "$(pidmap_of "$s")" --label "$tag"
        --mode "$(go_mode "$s" "$kind")" --duration "$dur" --val-size 256)
    if [ "$kind" = watch ]; then
        args+=(--watchers "$watchers" --rate "$watch_rate" --grace 3s)
    else
        args+=(--clients "$clients" --conns "$conns" --key-space "$keys")
    fi
    if [ "$s" = zookeeper ] && [ "$(dur_s "$zk_warmup")" -gt 0 ]; then
        if ! zk_warm "$tag" "$keys"; then
            status=failed note="warm-up/prefill failed (see $tag.warmup.stderr)"
            return
        fi
        args+=(--prefill=false)
    fi
    echo "$bin ${args[*]}" >"$out/$tag.cmd"
    run_limited $(($(dur_s "$dur") + 900)) "$out/$tag.out" "$out/$tag.stderr" \
        "$bin" "${args[@]}" || rc=$?
    judge_exit "$rc" "$out/$tag.stderr"
    [ "$s" = zookeeper ] && [ "$rc" = 3 ] && status=n/a note="no $kind mode in zkbench"
    grep '^RESULT_JSON ' "$out/$tag.out" | sed 's/^RESULT_JSON //' >"$out/$tag.json" || true
}

cabildo_has_mode() {
    "$bench_bin" bench --help 2>&1 | grep -qE -- "--mode TEXT:\{[^}]*\b$1\b"
}

cabildo_args() { # kind -> cabildo-bench bench arguments (besides clients and duration)
    case "$1" in
        put) echo "--mode put" ;;
        getl) echo "--mode get --consistency linearizable" ;;
        gets) echo "--mode get --consistency serializable" ;;
        mixed) echo "--mode mixed --consistency linearizable" ;;
    esac
}

# One measurement with cabildo-bench; the nodes' CPU from /proc around it.
run_cabildo() {
    local tag=$1 wl=$2 kind=$3 clients=$4 conns=$5 keys=$6 dur=$7 args=() pids=() rc=0
    local before after b0 a0 b1 a1 t0 t1
    if [ "$kind" = watch ]; then
        args=(--mode watch --watchers "$watchers" --rate "$watch_rate" --duration "$dur"
            --watch-kind "$([ "$wl" = watchstream ] && echo stream || echo exact)")
    else
        read -r -a args <<<"$(cabildo_args "$kind")"
        if [ "$kind" != put ]; then  # every key once, outside the measurement
            if ! "$bench_bin" --endpoints "$cabildo_endpoints" bench "${args[@]}" --key-space "$keys" \
                --value-size 256 --quiet --prefill --count 1 >"$out/$tag.prefill.out" 2>&1; then
                status=failed note="prefill failed (see $tag.prefill.out)"
                return
            fi
        fi
        args+=(--clients "$clients" --connections "$conns" --key-space "$keys" --duration "$dur")
    fi
    args+=(--value-size 256 --quiet)
    mapfile -t pids < <("$cluster" pids)
    echo "$bench_bin --endpoints $cabildo_endpoints --json bench ${args[*]}" >"$out/$tag.cmd"
    read -r b0 a0 < <(machine_ticks)
    before=$(cpu_seconds "${pids[@]}")
    t0=$(date +%s.%N)
    run_limited $(($(dur_s "$dur") + 900)) "$out/$tag.json" "$out/$tag.stderr" \
        "$bench_bin" --endpoints "$cabildo_endpoints" --json bench "${args[@]}" || rc=$?
    t1=$(date +%s.%N)
    after=$(cpu_seconds "${pids[@]}")
    read -r b1 a1 < <(machine_ticks)
    awk -v a="$after" -v b="$before" -v t0="$t0" -v t1="$t1" -v mb=$((b1 - b0)) -v ma=$((a1 - a0)) \
        -v n="$(nproc)" 'BEGIN { printf "{\"node_cpu_s\": %.3f, \"elapsed_s\": %.3f, \"machine_cores\": %.3f}\n",
            a - b, t1 - t0, ma ? n * mb / ma : 0 }' >"$out/$tag.cpu.json"
    judge_exit "$rc" "$out/$tag.stderr"
    # The nodes' logs (elections, slow syncs, snapshots) go before the wipe.
    local data=${CABILDO_BENCH_DATA:-/tmp/cabildo-bench-data} f
    for f in "$data"/node*.log; do
        if [ -f "$f" ]; then cp "$f" "$out/$tag.$(basename "$f")" || true; fi
    done
    return 0
}

# Why a run is not worth a cluster start, or nothing.
skip_reason() {
    local s=$1 wl=$2 kind=$3
    if [ "$wl" = watchstream ] && [ "$s" != cabildo ]; then echo "skip"; return; fi
    if [ "$s" = zookeeper ] && [ "$kind" = watch ]; then echo "zkbench: go-zookeeper has only one-shot watches"; return; fi
    if [ "$s" = cabildo ]; then
        if [ "$kind" = watch ] && ! cabildo_has_mode watch; then echo "mode missing"; fi
        return
    fi
    if { [ "$kind" = mixed ] || [ "$kind" = watch ]; } && ! is_extended "$s"; then
        echo "mode missing"
    fi
}

record() { # round system workload name status note [KEY=VALUE ...]
    local r=$1 s=$2 wl=$3 name=$4 st=$5 nt=$6 tag="r$1-$2-$3" line
    shift 6
    line=$(/usr/bin/python3 "$table_py" record --jsonl "$out/results.jsonl" --system "$s" \
        --workload "$wl" --name "$name" --round "$r" --status "$st" ${nt:+--note "$nt"} \
        --raw "$out/$tag.json" --cpu "$out/$tag.cpu.json" \
        --idle-cores "${idle_cores:-0}" --idle-ok "${idle_ok:-1}" "$@" 2>&1) || line="record failed: $line"
    log "  $line"
}

run_one() { # round system workload
    local r=$1 s=$2 wl=$3 tag="r$1-$2-$3" name kind clients conns keys dur reason
    IFS='|' read -r name kind clients conns keys dur <<<"$(workload "$wl")"
    local fields=(duration="$dur" clients="$clients" conns="$conns" key_space="$keys"
        loadgen="$(loadgen_of "$s")")
    [ "$kind" != watch ] || fields+=(watchers="$watchers" watch_rate="$watch_rate")
    idle_cores="" idle_ok=""
    reason=$(skip_reason "$s" "$wl" "$kind")
    [ "$reason" = skip ] && return 0
    if [ -n "$reason" ]; then
        record "$r" "$s" "$wl" "$name" n/a "$reason" "${fields[@]}"
        return 0
    fi
    log "r$r $s: $name"
    quiet_wait "$tag"
    sync
    status=failed note=""
    if cluster_start "$s" >"$out/$tag.cluster.txt" 2>&1; then
        running=$s
        if [ "$s" = cabildo ]; then
            run_cabildo "$tag" "$wl" "$kind" "$clients" "$conns" "$keys" "$dur"
        else
            run_go "$tag" "$s" "$kind" "$clients" "$conns" "$keys" "$dur"
        fi
    else
        note="cluster did not start (see $tag.cluster.txt)"
    fi
    cluster_stop "$s" >>"$out/$tag.cluster.txt" 2>&1 || true
    running=""
    record "$r" "$s" "$wl" "$name" "$status" "$note" "${fields[@]}"
}

write_env() {
    {
        echo "date: $(date -Is)"
        echo "host: $(uname -r), $(nproc) cores"
        echo "args: rounds=$rounds duration=$duration long=$long_duration/$long_keys keys" \
            "watch=$watchers@$watch_rate/s zk_warmup=$zk_warmup idle_wait=$idle_wait"
        echo "systems: ${systems[*]}"
        echo "workloads: ${workloads[*]}"
        for s in "${systems[@]}"; do echo "loadgen $s: $(loadgen_of "$s")"; done
        command -v etcd >/dev/null && echo "etcd: $(etcd --version 2>/dev/null | head -1)"
        [ -x /usr/sbin/nats-server ] && echo "nats-server: $(/usr/sbin/nats-server --version 2>/dev/null)"
        [ -n "$nats_syncalways" ] && echo "nats-server-syncalways: $nats_syncalways"
        dpkg-query -W -f='zookeeper: ${Version}\n' zookeeper 2>/dev/null || true
        echo "cabildo-node: ${CABILDO_NODE:-$root/build/node/cabildo-node}"
    } >>"$out/env.txt"
}

check_needs
write_env
log "out: $out; systems: ${systems[*]}; workloads: ${workloads[*]}; rounds: $rounds"
for r in $(seq "$rounds"); do
    for s in "${systems[@]}"; do
        for wl in "${workloads[@]}"; do
            run_one "$r" "$s" "$wl"
        done
    done
done
/usr/bin/python3 "$table_py" table "$out" | tee "$out/table.md"
log "raw outputs, results.jsonl and table.md in $out"
