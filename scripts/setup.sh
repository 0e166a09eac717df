#!/usr/bin/env bash
# Installs what meshd needs to build and test on Debian 12, skipping what is already there.
# Idempotent and quiet: prints one line per step.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-system-dev libc-ares-dev libsqlite3-dev libssl-dev libnghttp2-dev nghttp2-client nghttp2-server
  nlohmann-json3-dev libcli11-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev libre2-dev
  awscli dnsutils iproute2 iptables curl procps
  clang-14 libclang-rt-14-dev
  libgoogle-perftools-dev python3-grpcio
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm fetches Envoy's API protos (proto/package.json); any npm will do, Debian's included.
if ! command -v npm >/dev/null; then
  echo "setup: installing npm"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "setup: system packages ready"
