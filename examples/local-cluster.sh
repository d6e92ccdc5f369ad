#!/usr/bin/env bash
# Sets up, builds and runs a local Cabildo cluster on loopback.
#
#   examples/local-cluster.sh                 # 3 nodes, in the foreground; Ctrl-C stops them
#   examples/local-cluster.sh --nodes 5       # any odd size
#   examples/local-cluster.sh --detach        # leave it running; stop with: examples/local-cluster.sh stop
#   examples/local-cluster.sh stop            # stop a detached cluster
#   examples/local-cluster.sh --fresh         # wipe the data first
#
# Node i listens on 127.0.0.1 ports 7100+10*(i-1) (peers), +1 (clients),
# +2 (pub), +3 (pull). Data and logs live under cluster-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${CABILDO_DATA:-$root/cluster-data}
nodes=3
detach=false
fresh=false

stop_cluster() {
    local pids=()
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
    [ ${#pids[@]} -gt 0 ] && echo "stopped ${#pids[@]} node(s)"
    return 0
}

while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --detach) detach=true; shift ;;
        --fresh) fresh=true; shift ;;
        stop) stop_cluster; exit 0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

./setup.sh
stop_cluster
$fresh && rm -rf "$data"
mkdir -p "$data"

members=()
endpoints=()
for i in $(seq "$nodes"); do
    port=$((7100 + 10 * (i - 1)))
    members+=(--member "$i=127.0.0.1:$port")
    endpoints+=("tcp://127.0.0.1:$((port + 1))")
done
for i in $(seq "$nodes"); do
    setsid build/node/cabildo-node --id "$i" --data-dir "$data/node$i" "${members[@]}" \
        >>"$data/node$i.log" 2>&1 < /dev/null &
    echo $! > "$data/node$i.pid"
done
export CABILDO_ENDPOINTS=$(IFS=,; echo "${endpoints[*]}")

# The ids of nodes whose process is gone (a node that cannot open its data
# directory exits at once, saying why in its log).
exited_nodes() {
    for i in $(seq "$nodes"); do
        kill -0 "$(cat "$data/node$i.pid")" 2>/dev/null || echo "$i"
    done
}

# Wait (bounded) until the cluster has a leader, or a node gave up.
for _ in $(seq 100); do
    if build/client/cabildo status 2>/dev/null | grep -q leader; then break; fi
    [ -n "$(exited_nodes)" ] && break
    sleep 0.1
done
dead=$(exited_nodes)
if [ -n "$dead" ]; then
    for i in $dead; do
        echo "node $i exited: $(grep -E 'critical|error' "$data/node$i.log" | tail -1)" >&2
    done
    echo "Data in $data/ from another cluster size or an older Cabildo? Start over with --fresh." >&2
    stop_cluster
    exit 1
fi
build/client/cabildo status || true

cat <<EOF_USAGE

Cabildo: $nodes nodes on 127.0.0.1, data and logs in $data/
Client endpoints: $CABILDO_ENDPOINTS

Try it (in another shell):
  export CABILDO_ENDPOINTS=$CABILDO_ENDPOINTS
  build/client/cabildo put greeting hello
  build/client/cabildo get greeting
  build/client/cabildo cas greeting bonjour --expected hello
  build/client/cabildo range gr
  build/client/cabildo status
  /usr/bin/python3 examples/python/demo.py
  kill -9 \$(cat $data/node1.pid)      # the others carry on
EOF_USAGE

if $detach; then
    echo "Running detached. Stop with: examples/local-cluster.sh stop"
    exit 0
fi
trap 'echo; stop_cluster; exit 0' INT TERM
echo "Press Ctrl-C to stop the cluster."
while true; do sleep 1; done
