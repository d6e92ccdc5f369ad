#!/usr/bin/env bash
# Build the anchors' load generators (kvbench, zkbench, natsbench) extended with our
# `mixed` and `watch` modes, offline, in GOPATH mode, exactly like the anchors' own
# scripts/build.sh. The anchors' main.go is copied (never edited) into
#   build/anchors/<system>/gopath/src/<name>/
# next to our extra files from examples/bench/anchors/{common,<system>}/ (same `package main`);
# binaries go to build/anchors/bin/{kvbench,zkbench,natsbench}.
#
# Usage: examples/bench/anchors/build.sh [etcd|zookeeper|nats ...]   (default: all three)
# Env:   ANCHORS_DIR (default <repo>/../shared/anchors), FORCE=1 (rebuild), GOCACHE,
#        NATS_ANCHOR_OUT (default build/anchors/nats-anchor-out), NO_SYNCALWAYS=1.
# Idempotent: installs missing Debian packages, rebuilds a binary only when a source is
# newer, and runs the nats anchor's own scripts/build.sh (with ANCHOR_OUT=$NATS_ANCHOR_OUT)
# when its outputs are missing: its start-cluster.sh needs $ANCHOR_OUT/bin/natsbench, and
# --sync always needs bin/nats-server-syncalways. The etcd and zookeeper start-cluster.sh
# use no built file, so their build.sh are not run (they would write into the anchor folder).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
anchors="${ANCHORS_DIR:-$root/../shared/anchors}"
[ -d "$anchors" ] || { echo "anchors not found: $anchors (set ANCHORS_DIR)" >&2; exit 1; }
anchors="$(cd "$anchors" && pwd)"
out="$root/build/anchors"
systems=("$@")
[ ${#systems[@]} -gt 0 ] || systems=(etcd zookeeper nats)

declare -A bench=([etcd]=kvbench [zookeeper]=zkbench [nats]=natsbench)
gocode=/usr/share/gocode/src

# --- Debian packages: the same checks and package lists as each anchor's build.sh ---
need_pkgs() { # system -> prints the packages to install if something is missing
  case "$1" in
    etcd)
      if ! command -v go >/dev/null || [ ! -d $gocode/go.etcd.io/etcd/clientv3 ] || ! command -v etcd >/dev/null; then
        echo etcd-server etcd-client golang-go golang-etcd-server-dev
      fi ;;
    zookeeper)
      if ! command -v go >/dev/null || ! command -v java >/dev/null || [ ! -r /usr/share/java/zookeeper.jar ] \
         || [ ! -r /usr/share/java/slf4j-log4j12.jar ] || [ ! -r /usr/share/java/log4j-1.2.jar ] \
         || [ ! -d $gocode/github.com/samuel/go-zookeeper/zk ]; then
        echo zookeeper libslf4j-java liblog4j1.2-java golang-go golang-github-samuel-go-zookeeper-dev
      fi ;;
    nats)
      if ! command -v go >/dev/null || ! command -v nats-server >/dev/null || ! command -v curl >/dev/null \
         || [ ! -f $gocode/github.com/nats-io/nats.go/kv.go ] \
         || [ ! -f $gocode/github.com/nats-io/nats-server/server/filestore.go ]; then
        echo nats-server golang-go golang-github-nats-io-go-nats-dev golang-github-nats-io-nats-server-dev curl
      fi ;;
    *) echo "unknown system: $1 (etcd|zookeeper|nats)" >&2; exit 2 ;;
  esac
}
pkgs=""
for s in "${systems[@]}"; do pkgs+=" $(need_pkgs "$s")"; done
if [ -n "${pkgs// /}" ]; then
  echo "installing Debian packages:$pkgs"
  apt-get update -qq
  # --no-install-recommends as the zookeeper/nats anchors do (keeps zookeeperd, which
  # would start a system ZooKeeper on 2181, out)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
    --no-install-recommends $pkgs >/dev/null
fi

export GO111MODULE=off GOFLAGS= GOCACHE="${GOCACHE:-/tmp/cabildo-anchors-gocache}"
mkdir -p "$out/bin"

for s in "${systems[@]}"; do
  name="${bench[$s]}"
  src_main="$anchors/$s/gopath/src/$name/main.go"
  [ -r "$src_main" ] || { echo "missing $src_main" >&2; exit 1; }
  [ -e "$(ls "$here/$s"/*.go 2>/dev/null | head -1)" ] || { echo "no extra Go files in $here/$s" >&2; exit 1; }
  ours=("$here/common"/*.go "$here/$s"/*.go)
  bin="$out/bin/$name"
  stale=1
  if [ -z "${FORCE:-}" ] && [ -x "$bin" ]; then
    stale=0
    for f in "$src_main" "${ours[@]}" "$here/build.sh"; do [ "$f" -nt "$bin" ] && stale=1; done
  fi
  if [ $stale = 1 ]; then
    gp="$out/$s/gopath"
    pkg="$gp/src/$name"
    rm -rf "$pkg"; mkdir -p "$pkg"
    cp "$src_main" "$pkg/main.go"          # the anchor's file, unmodified
    cp "${ours[@]}" "$pkg/"                # our mode(s), same package main
    (cd "$pkg" && GOPATH="$gp:/usr/share/gocode" go build -o "$bin.tmp" .)
    mv -f "$bin.tmp" "$bin"
    echo "built: $bin"
  else
    echo "up to date: $bin"
  fi
done

# The nats anchor's start-cluster.sh runs "$ANCHOR_OUT/bin/natsbench --mode setup" and, with
# --sync always, "$ANCHOR_OUT/bin/nats-server-syncalways": build them with its own script. Its
# default ANCHOR_OUT is the anchor folder when writable, which it is for root even when its mode
# is read-only, so never leave it to the default: we use $NATS_ANCHOR_OUT (below), and the
# cluster scripts must be run with the same ANCHOR_OUT (see README.md).
for s in "${systems[@]}"; do
  [ "$s" = nats ] || continue
  aout="${NATS_ANCHOR_OUT:-$out/nats-anchor-out}"
  case "$aout" in "$anchors"/*) echo "refusing ANCHOR_OUT inside $anchors" >&2; exit 1;; esac
  if [ ! -x "$aout/bin/natsbench" ] || { [ -z "${NO_SYNCALWAYS:-}" ] && [ ! -x "$aout/bin/nats-server-syncalways" ]; }; then
    echo "building the nats anchor's own binaries into $aout/bin (its scripts/build.sh)"
    mkdir -p "$aout"
    ANCHOR_OUT="$aout" "$anchors/nats/scripts/build.sh"
  else
    echo "up to date: $aout/bin/{natsbench,nats-server-syncalways} (nats anchor, for its start-cluster.sh)"
  fi
done
