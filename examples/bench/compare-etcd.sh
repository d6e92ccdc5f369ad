#!/usr/bin/env bash
# Side by side with etcd on this machine: the same closed-loop workloads
# against a 3-member etcd 3.4 cluster (the anchor in ../shared/anchors/etcd,
# load from its Go `kvbench`) and against a fresh 3-node Cabildo cluster
# (load from `cabildo-bench`), then one table from both tools' JSON.
#
#   examples/bench/compare-etcd.sh [--duration 10s] [--out DIR] [--only etcd|cabildo]
#
# Configs: put c=16, c=64, c=256 over 64 connections, get linearizable c=64,
# get serializable c=64; 256-byte values, 10k keys (gets prefill every key
# first), 3 nodes on loopback, fsync on (both systems' defaults). Each config
# runs on a freshly started and afterwards wiped cluster; etcd first, then
# Cabildo; never both clusters at once (the box has 2 cores, and the load
# generator shares them). Connections are pinned round-robin to the nodes in
# both tools, so followers forward writes to the leader.
#
# Needs: build/client/bench/cabildo-bench, build/node/cabildo-node and
# build/client/cabildo built; etcd and Go from Debian (the anchor's
# scripts/build.sh installs them; kvbench is built here into build/etcd-anchor/
# because the anchor directory may be read-only). Output: DIR (default
# build/bench-compare/<time>) holds every raw output and table.md.
# Figures only: the table compares, it does not judge.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
anchor=${ETCD_ANCHOR:-$(cd "$root/../shared/anchors/etcd" && pwd)}
duration=10s
only=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
out=${out:-$root/build/bench-compare/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
bench_bin=$root/build/client/bench/cabildo-bench
kvbench=$root/build/etcd-anchor/kvbench
cluster=$root/examples/bench/cabildo-cluster.sh
cabildo_endpoints="tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"

# name|kvbench mode|clients|connections
configs=(
    "put c=16|put|16|16"
    "put c=64|put|64|64"
    "put c=256 (64 conns)|put|256|64"
    "get linearizable c=64|get-l|64|64"
    "get serializable c=64|get-s|64|64"
)

log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

build_kvbench() {
    if ! command -v etcd >/dev/null || ! command -v go >/dev/null ||
        [ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]; then
        log "installing etcd and Go from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
            etcd-server etcd-client golang-go golang-etcd-server-dev >/dev/null
    fi
    local src=$anchor/gopath/src/kvbench/main.go
    if [ -x "$kvbench" ] && [ "$kvbench" -nt "$src" ]; then return 0; fi
    log "building kvbench (GOPATH mode, offline)"
    mkdir -p "$(dirname "$kvbench")"
    (cd "$anchor/gopath/src/kvbench" &&
        GO111MODULE=off GOFLAGS= GOPATH="$anchor/gopath:/usr/share/gocode" \
            GOCACHE="${GOCACHE:-/tmp/etcd-anchor-gocache}" go build -o "$kvbench" .)
}

# Before each run: write back whatever the previous run (the other system's,
# or its wiped data) left dirty, so that neither pays for the other's disk
# traffic in its fsyncs.
settle_disk() {
    sync
    sleep 1
}

# CPU seconds (user + sys) of the given PIDs so far.
cpu_seconds() {
    local ticks=0 pid
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

run_etcd() {
    local i=$1 name mode clients conns
    IFS='|' read -r name mode clients conns <<<"${configs[$i]}"
    log "etcd: $name"
    settle_disk
    "$anchor/scripts/start-cluster.sh" >"$out/etcd-$i.cluster.txt" 2>&1
    # shellcheck source=/dev/null
    (source "$anchor/scripts/env.sh" &&
        "$kvbench" --endpoints "$ETCD_ENDPOINTS" --pids "$(etcd_pidmap)" --mode "$mode" \
            --clients "$clients" --conns "$conns" --duration "$duration" \
            --key-space 10000 --val-size 256 --label "$name") \
        >"$out/etcd-$i.out" 2>"$out/etcd-$i.stderr" || log "kvbench failed: see $out/etcd-$i.stderr"
    "$anchor/scripts/stop-cluster.sh" --wipe >>"$out/etcd-$i.cluster.txt" 2>&1
    grep '^RESULT_JSON ' "$out/etcd-$i.out" | sed 's/^RESULT_JSON //' >"$out/etcd-$i.json" || true
}

run_cabildo() {
    local i=$1 name mode clients conns args=() before after
    IFS='|' read -r name mode clients conns <<<"${configs[$i]}"
    case "$mode" in
        put) args=(--mode put) ;;
        get-l) args=(--mode get --consistency linearizable) ;;
        get-s) args=(--mode get --consistency serializable) ;;
    esac
    log "cabildo: $name"
    settle_disk
    "$cluster" start >"$out/cabildo-$i.cluster.txt" 2>&1
    local common=(--key-space 10000 --value-size 256 --quiet)
    if [ "$mode" != put ]; then  # put every key once, outside the measurement
        "$bench_bin" --endpoints "$cabildo_endpoints" bench "${args[@]}" "${common[@]}" \
            --prefill --count 1 >/dev/null 2>>"$out/cabildo-$i.stderr"
    fi
    mapfile -t pids < <("$cluster" pids)
    before=$(cpu_seconds "${pids[@]}")
    "$bench_bin" --endpoints "$cabildo_endpoints" --json bench "${args[@]}" "${common[@]}" \
        --clients "$clients" --connections "$conns" --duration "$duration" \
        >"$out/cabildo-$i.json" 2>>"$out/cabildo-$i.stderr" || log "cabildo-bench failed"
    after=$(cpu_seconds "${pids[@]}")
    echo "{\"node_cpu_s\": $(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')}" \
        >"$out/cabildo-$i.cpu.json"
    "$cluster" stop >>"$out/cabildo-$i.cluster.txt" 2>&1
}

cleanup() {
    [ "$only" = cabildo ] || "$anchor/scripts/stop-cluster.sh" --wipe >/dev/null 2>&1 || true
    "$cluster" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

for need in "$bench_bin" build/node/cabildo-node build/client/cabildo; do
    [ -x "$need" ] || { echo "missing $need: build it first" >&2; exit 1; }
done
[ "$only" = cabildo ] || build_kvbench
if [ "$only" != cabildo ]; then
    for i in "${!configs[@]}"; do run_etcd "$i"; sleep 1; done
fi
if [ "$only" != etcd ]; then
    for i in "${!configs[@]}"; do run_cabildo "$i"; sleep 1; done
fi

names=$(printf '%s\n' "${configs[@]}" | cut -d'|' -f1)
/usr/bin/python3 - "$out" "$duration" "$names" <<'EOF_PY' | tee "$out/table.md"
import json, os, sys
out, duration, names = sys.argv[1], sys.argv[2], sys.argv[3].split("\n")

def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None

def num(x, fmt):
    return fmt % x if isinstance(x, (int, float)) else "-"

def ratio(a, b):
    return "%.2f" % (a / b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"

print("Closed loop, %s per config, 256 B values, 10k keys, 3 nodes on loopback, fsync on." % duration)
print("ratio = cabildo / etcd (ops/s: > 1 means Cabildo is faster; p99: < 1 means Cabildo is faster).")
print("server CPU = cores used by the 3 server processes over the run; errors = failed requests.\n")
print("| config | etcd ops/s | cabildo ops/s | ratio | etcd p99 ms | cabildo p99 ms | p99 ratio "
      "| etcd p50 ms | cabildo p50 ms | etcd srv CPU | cabildo srv CPU | errors etcd/cabildo |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for i, name in enumerate(names):
    e = load(os.path.join(out, "etcd-%d.json" % i)) or {}
    c = load(os.path.join(out, "cabildo-%d.json" % i)) or {}
    cpu = load(os.path.join(out, "cabildo-%d.cpu.json" % i)) or {}
    e_ops, c_ops = e.get("ops_per_s"), c.get("ops_per_s")
    e_lat, c_lat = e.get("lat_ms", {}), c.get("lat_ms", {})
    e_cpu = e.get("cpu_cores", {}).get("servers_total")
    c_cpu = cpu.get("node_cpu_s") / c["wall_s"] if cpu.get("node_cpu_s") is not None and c.get("wall_s") else None
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s |" % (
        name, num(e_ops, "%.0f"), num(c_ops, "%.0f"), ratio(c_ops, e_ops),
        num(e_lat.get("p99"), "%.1f"), num(c_lat.get("p99"), "%.1f"),
        ratio(c_lat.get("p99"), e_lat.get("p99")),
        num(e_lat.get("p50"), "%.1f"), num(c_lat.get("p50"), "%.1f"),
        num(e_cpu, "%.2f"), num(c_cpu, "%.2f"),
        e.get("errors", "-"), c.get("errors", "-")))
EOF_PY
log "raw outputs and table.md in $out"
