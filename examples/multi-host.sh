#!/usr/bin/env bash
# A cluster as it runs on separate hosts: every node in a network namespace
# of its own with its own IP address, a client in another, all on one
# bridge. Shows writes and reads from the client host, a partition that
# cuts the leader off (the others elect a new leader and keep writing; the
# cut-off node's /health turns 503) and the heal (it catches up: every node
# the same applied index and state hash). Every step is checked: the script
# exits 1 at the first that fails.
#
#   sudo examples/multi-host.sh            # 3 nodes
#   sudo examples/multi-host.sh --nodes 5
#
# Needs root, `ip netns` (iproute2) and `nft` (nftables); without them it
# says why and exits 77. It uses the built binaries (build/: ./setup.sh),
# data in a temporary directory, and removes its namespaces on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=3
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

skip() { echo "multi-host: skipped: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "needs ip (iproute2)"
command -v nft >/dev/null || skip "needs nft (nftables)"
bin=${CABILDO_BIN_DIR:-build}  # where the binaries are (tests: CMake's build directory)
for b in "$bin/node/cabildo-node" "$bin/client/cabildo"; do
    [ -x "$b" ] || { echo "multi-host: $b is missing: run ./setup.sh" >&2; exit 1; }
done

tag="cabmh$$"
octet=$((RANDOM % 200 + 20))
net="10.212.$octet"
dir=$(mktemp -d /tmp/cabildo-multi-host.XXXXXX)
ip netns add "${tag}probe" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "${tag}probe"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "multi-host: FAILED: $*" >&2; exit 1; }
# Polls a command until it succeeds, for at most $1 seconds.
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

step "network: a bridge, $nodes node hosts ($net.1-$nodes) and a client host ($net.100)"
ip netns add "${tag}sw"
ip -n "${tag}sw" link add br0 type bridge
ip -n "${tag}sw" link set br0 up
host() {  # namespace name, host number
    ip netns add "$1"
    ip -n "${tag}sw" link add "v$2" type veth peer name eth0 netns "$1"
    ip -n "${tag}sw" link set "v$2" master br0 up
    ip -n "$1" link set lo up
    ip -n "$1" addr add "$net.$2/24" dev eth0
    ip -n "$1" link set eth0 up
}
for i in $(seq "$nodes"); do host "${tag}n$i" "$i"; done
host "${tag}cl" 100

step "nodes: each on its own address, port 7100, metrics on :9100"
members=()
endpoints=()
for i in $(seq "$nodes"); do
    members+=(--member "$i=$net.$i:7100")
    endpoints+=("tcp://$net.$i:7101")
done
for i in $(seq "$nodes"); do
    ip netns exec "${tag}n$i" "$bin/node/cabildo-node" --id "$i" --data-dir "$dir/node$i" \
        "${members[@]}" --metrics-listen "$net.$i:9100" >"$dir/node$i.log" 2>&1 &
    pids+=($!)
done
all=$(IFS=,; echo "${endpoints[*]}")
on_client() { ip netns exec "${tag}cl" "$@"; }
cli() { on_client "$bin/client/cabildo" --endpoints "$all" "$@"; }
health() {  # node number -> HTTP status of its /health, from the client host
    on_client /usr/bin/python3 -c '
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print(0)' "http://$net.$1:9100/health"
}
leader_id() {
    cli --json status | /usr/bin/python3 -c '
import json, sys
nodes = [n for n in json.load(sys.stdin)["nodes"] if n.get("role") == "leader"]
print(max(nodes, key=lambda n: n["term"])["node_id"] if nodes else "")'
}
has_leader() { [ -n "$(leader_id)" ]; }
wait_until 15 has_leader || fail "no leader was elected"
cli status

step "writes and reads from the client host"
cli put greeting "hello from $net.100" || fail "put"
[ "$(cli get greeting)" = "hello from $net.100" ] || fail "get did not read the put"
echo "get greeting: $(cli get greeting)"

old=$(leader_id)
step "partition: leader (node $old) cut off from the other nodes (clients still reach it)"
others=()
for i in $(seq "$nodes"); do [ "$i" = "$old" ] || others+=("$net.$i"); done
set_of=$(IFS=,; echo "${others[*]}")
ip netns exec "${tag}n$old" nft -f - <<EOF
table inet cabmh {
  chain input { type filter hook input priority 0; policy accept; ip saddr { $set_of } drop; }
  chain output { type filter hook output priority 0; policy accept; ip daddr { $set_of } drop; }
}
EOF
new_leader() { local l; l=$(leader_id); [ -n "$l" ] && [ "$l" != "$old" ]; }
wait_until 15 new_leader || fail "the majority did not elect a new leader"
echo "new leader: node $(leader_id)"
majority=$(for i in $(seq "$nodes"); do [ "$i" = "$old" ] || echo "tcp://$net.$i:7101"; done |
           paste -sd,)
on_client "$bin/client/cabildo" --endpoints "$majority" put during partition ||
    fail "the majority did not take a write"
echo "the majority took a write"
unhealthy() { [ "$(health "$old")" = 503 ]; }
wait_until 10 unhealthy || fail "node $old's /health stayed $(health "$old")"
echo "node $old /health: 503 (cut off)"
if on_client "$bin/client/cabildo" --endpoints "tcp://$net.$old:7101" --timeout-ms 1500 \
    get during >/dev/null 2>&1; then
    fail "the cut-off node served a linearizable read"
fi
echo "the cut-off node refuses linearizable reads"

step "heal"
ip netns exec "${tag}n$old" nft delete table inet cabmh
healthy() { [ "$(health "$old")" = 200 ]; }
wait_until 15 healthy || fail "node $old's /health stayed $(health "$old") after the heal"
converged() {
    cli --json status | /usr/bin/python3 -c '
import json, sys
nodes = json.load(sys.stdin)["nodes"]
seen = {(n.get("applied_index"), n.get("state_hash")) for n in nodes}
sys.exit(0 if len(seen) == 1 and all(n["reachable"] for n in nodes) else 1)'
}
wait_until 20 converged || { cli status; fail "the nodes did not converge"; }
cli status
[ "$(on_client "$bin/client/cabildo" --endpoints "tcp://$net.$old:7101" \
     get --serializable during)" = partition ] || fail "node $old does not hold the partition's write"
echo
echo "multi-host: every step passed"
