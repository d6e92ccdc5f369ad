#!/usr/bin/env bash
# Idempotent setup: installs the Debian packages Cabildo needs (only the missing
# ones) and builds the project into build/ (or $CABILDO_BUILD_DIR).
# Usage: ./setup.sh [--sanitize] [--targets T1,T2]
#   --sanitize  builds with ASan+UBSan into build-asan/
#   --targets   builds only these targets (examples/local-cluster.sh: the
#               node and the CLI, a few minutes less on a fresh machine)
set -euo pipefail
cd "$(dirname "$0")"

packages=(build-essential cmake ninja-build pkg-config
          libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libboost-dev liblmdb-dev zlib1g-dev libxxhash-dev
          libgtest-dev libgmock-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
          libmicrohttpd-dev libncurses-dev libmimalloc-dev tmux
          python3 python3-zmq python3-msgpack iproute2 procps nftables faketime
          clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_dir=${CABILDO_BUILD_DIR:-build}
build_type=Release
sanitize=OFF
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sanitize)
            build_dir=${CABILDO_BUILD_DIR:-build-asan}
            build_type=Debug
            sanitize=ON
            shift ;;
        --targets) IFS=, read -r -a targets <<<"$2"; shift 2 ;;
        *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=$build_type -DCABILDO_SANITIZE=$sanitize >/dev/null
cmake --build "$build_dir" -j "$(nproc)" ${targets[@]:+--target "${targets[@]}"}
