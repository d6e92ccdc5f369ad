#!/usr/bin/env bash
# Sets up, builds and runs a local Cabildo cluster on loopback.
#
#   examples/local-cluster.sh                 # 3 nodes, in the foreground; Ctrl-C stops them
#   examples/local-cluster.sh --nodes 5       # any odd size
#   examples/local-cluster.sh --detach        # leave it running; stop with: examples/local-cluster.sh stop
#   examples/local-cluster.sh stop            # stop a detached cluster
#   examples/local-cluster.sh --fresh         # wipe the data first
#   examples/local-cluster.sh --secure        # CURVE and an ACL (PROTOCOL.md section 12)
#
# Node i listens on 127.0.0.1 ports 7100+10*(i-1) (peers), +1 (clients),
# +2 (pub), +3 (pull), and serves HTTP metrics on 127.0.0.1:9100+i
# (/metrics, /health, /livez). Only the node and the CLI are built (the
# test command, tests/run.sh, builds everything). In the foreground the
# script ends when its nodes are gone (Ctrl-C here, or
# `examples/local-cluster.sh stop` from another shell). Data and logs live under cluster-data/. --secure
# keeps its keys in cluster-data/keys/ (made on first use, again with
# --fresh): node<i>.key per node, server.key (what every node's client, PUB
# and PULL endpoints prove), admin.key (an identity with every right) and
# acl.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${CABILDO_DATA:-$root/cluster-data}
nodes=3
detach=false
fresh=false
secure=false

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
        --secure) secure=true; shift ;;
        stop) stop_cluster; exit 0 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

# CABILDO_NO_SETUP=1 (tests): run the binaries already built.
[ "${CABILDO_NO_SETUP:-}" = 1 ] || ./setup.sh --targets cabildo-node,cabildo
stop_cluster
$fresh && rm -rf "$data"
mkdir -p "$data"

keys=$data/keys
cli=(build/client/cabildo)

# The public key of a key file made by `cabildo keygen` (Z85: JSON-safe).
public_key() {
    sed -n 's/^public-key = "\(.*\)"$/\1/p' "$1"
}

# Keys and the ACL for --secure, unless a complete set is there already.
make_keys() {
    [ -f "$keys/acl.json" ] && return 0
    rm -rf "$keys"
    mkdir -p "$keys"
    chmod 700 "$keys"
    for name in server admin $(for i in $(seq "$nodes"); do echo "node$i"; done); do
        "${cli[@]}" keygen "$keys/$name" >/dev/null
    done
    {
        printf '{\n  "members": {'
        for i in $(seq "$nodes"); do
            [ "$i" -gt 1 ] && printf ','
            printf '\n    "%s": "%s"' "$i" "$(public_key "$keys/node$i.pub")"
        done
        printf '\n  },\n  "identities": {\n'
        printf '    "admin": {"key": "%s",\n' "$(public_key "$keys/admin.pub")"
        printf '              "allow": [{"prefix": "", "rights": ["read", "write", "watch", "admin"]}]}\n'
        printf '  }\n}\n'
    } >"$keys/acl.json.tmp"
    mv "$keys/acl.json.tmp" "$keys/acl.json"
    echo "made keys and an ACL in $keys/"
}

security=()
if $secure; then
    make_keys
    for i in $(seq "$nodes"); do
        [ -f "$keys/node$i.key" ] || {
            echo "$keys/ has no node$i.key (made for fewer nodes?): start over with --fresh" >&2
            exit 1
        }
    done
    cli+=(--curve-key "$keys/admin.key" --server-key "$keys/server.pub")
fi

members=()
endpoints=()
node_pids=()
for i in $(seq "$nodes"); do
    port=$((7100 + 10 * (i - 1)))
    members+=(--member "$i=127.0.0.1:$port")
    endpoints+=("tcp://127.0.0.1:$((port + 1))")
done
for i in $(seq "$nodes"); do
    $secure && security=(--curve-key "$keys/node$i.key" --server-key "$keys/server.key"
                         --acl "$keys/acl.json")
    setsid build/node/cabildo-node --id "$i" --data-dir "$data/node$i" "${members[@]}" \
        --metrics-listen "127.0.0.1:$((9100 + i))" "${security[@]}" \
        >>"$data/node$i.log" 2>&1 < /dev/null &
    echo $! > "$data/node$i.pid"
    node_pids+=($!)
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
    if "${cli[@]}" status 2>/dev/null | grep -q leader; then break; fi
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
"${cli[@]}" status || true

secure_usage=""
if $secure; then
    k=${keys#"$root"/}  # as the commands below are run: from the checkout
    secure_usage="
Secured (CURVE, ACL in $k/acl.json): every request needs a key the ACL lists:
  build/client/cabildo --curve-key $k/admin.key --server-key $k/server.pub put a b
or once per shell:
  export CABILDO_CURVE_KEY=$k/admin.key CABILDO_SERVER_KEY=$k/server.pub
More identities: build/client/cabildo keygen $k/web, add its public key (web.pub) to
acl.json under \"identities\" with its rights, then: kill -HUP \$(cat ${data#"$root"/}/node*.pid)
"
fi

cat <<EOF_USAGE

Cabildo: $nodes nodes on 127.0.0.1, data and logs in $data/
Client endpoints: $CABILDO_ENDPOINTS
$secure_usage
Try it (in another shell):
  export CABILDO_ENDPOINTS=$CABILDO_ENDPOINTS
  build/client/cabildo put greeting hello
  build/client/cabildo get greeting
  build/client/cabildo cas greeting bonjour --expected hello
  build/client/cabildo range gr
  build/client/cabildo status
  /usr/bin/python3 examples/python/demo.py
  build/client/cabildo top             # live view; q quits
  curl -s 127.0.0.1:9101/metrics       # node 1's metrics (also /health, /livez)
  kill -9 \$(cat $data/node1.pid)      # the others carry on
EOF_USAGE

if $detach; then
    echo "Running detached. Stop with: examples/local-cluster.sh stop"
    exit 0
fi
trap 'echo; stop_cluster; exit 0' INT TERM
echo "Press Ctrl-C to stop the cluster."
# Until every node is gone: stopped from another shell (`local-cluster.sh
# stop`) or killed. One node killed by hand is a demo: the rest carry on.
any_alive() {
    for pid in "${node_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}
while any_alive; do sleep 0.5; done
rm -f "$data"/node*.pid
echo "every node has stopped; exiting"
exit 0
