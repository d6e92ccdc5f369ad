#!/usr/bin/env bash
# Starts or stops a fresh local 3-node Cabildo cluster for benchmarks, from
# the already built build/node/cabildo-node (it builds nothing, unlike
# examples/local-cluster.sh, so it can run while the tree is being edited).
#
#   examples/bench/cabildo-cluster.sh start [DATA_DIR]   # fresh data, waits for a leader
#   examples/bench/cabildo-cluster.sh stop  [DATA_DIR]   # TERM, then KILL after 5 s; wipes DATA_DIR
#   examples/bench/cabildo-cluster.sh pids  [DATA_DIR]   # the node PIDs, one per line
#
# Same layout as examples/local-cluster.sh: node i on 127.0.0.1 ports
# 7100+10*(i-1) (peers), +1 (clients), +2 (pub), +3 (pull). DATA_DIR defaults
# to $CABILDO_BENCH_DATA or /tmp/cabildo-bench-data. fsync on: each node
# fdatasyncs its Raft log once per Ready batch, as etcd does its WAL.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmd=${1:-}
data=${2:-${CABILDO_BENCH_DATA:-/tmp/cabildo-bench-data}}
nodes=3
node_bin=${CABILDO_NODE:-build/node/cabildo-node}
# Extra node flags for experiments, e.g. CABILDO_NODE_FLAGS="--snapshot-entries 100000".
read -r -a node_flags <<<"${CABILDO_NODE_FLAGS:-}"
cli=${CABILDO_CLI:-build/client/cabildo}
endpoints="tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"

stop_cluster() {
    local pids=() pid f
    for f in "$data"/node*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
        rm -f "$f"
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$data"
}

start_cluster() {
    local port i members=()
    for p in 7100 7101 7102 7103 7110 7111 7112 7113 7120 7121 7122 7123; do
        if ss -ltn "sport = :$p" | grep -q LISTEN; then
            echo "port $p busy: is another cluster running (examples/local-cluster.sh stop)?" >&2
            exit 1
        fi
    done
    rm -rf "$data"
    mkdir -p "$data"
    for i in $(seq "$nodes"); do members+=(--member "$i=127.0.0.1:$((7100 + 10 * (i - 1)))"); done
    for i in $(seq "$nodes"); do
        setsid "$node_bin" --id "$i" --data-dir "$data/node$i" "${members[@]}" ${node_flags[@]+"${node_flags[@]}"} \
            >>"$data/node$i.log" 2>&1 </dev/null &
        echo $! >"$data/node$i.pid"
    done
    for _ in $(seq 100); do
        if "$cli" --endpoints "$endpoints" status 2>/dev/null | grep -q leader; then
            echo "cabildo cluster up: $endpoints (data in $data)"
            return 0
        fi
        sleep 0.1
    done
    echo "no leader after 10 s; logs in $data" >&2
    exit 1
}

case "$cmd" in
    start) start_cluster ;;
    stop) stop_cluster ;;
    pids) cat "$data"/node*.pid 2>/dev/null || true ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac
