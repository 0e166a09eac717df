#!/usr/bin/env bash
# Configures (once) and builds meshd into ./build with Ninja and ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
fi
echo "build: compiling with $(nproc) jobs"
cmake --build "$BUILD_DIR" -- -j"$(nproc)"
