#!/usr/bin/env bash
# xDS scale benchmark: meshd and N simulated Envoys over loopback (see driver.py for what it measures).
# Not a test. It loads the CPU: on a shared machine run it as
#   flock /tmp/meshd-build.lock bench/xds_scale/run.sh
# Environment: XDS_STREAMS (1000, up to 10000), XDS_NODES (100), XDS_BACKENDS (3), XDS_PROCS,
# XDS_RATE, BUILD_DIR (build), MESHD_BIN, XDS_LOAD_BIN. Needs: cmake --build build --target meshd xds_load
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
export MESHD_BIN="${MESHD_BIN:-$build/meshd}"
export XDS_LOAD_BIN="${XDS_LOAD_BIN:-$build/xds_load}"
for b in "$MESHD_BIN" "$XDS_LOAD_BIN"; do
  [[ -x "$b" ]] || { echo "run.sh: $b missing: cmake --build $build --target meshd xds_load" >&2; exit 1; }
done
# Every stream is a TCP connection: meshd holds one descriptor per stream, each load process one per
# stream it runs. Raise the soft limit to the hard one (children inherit it).
ulimit -n "$(ulimit -Hn)"
streams="${XDS_STREAMS:-1000}"
if (( $(ulimit -n) < streams + 1000 )); then
  echo "run.sh: ulimit -n $(ulimit -n) is too low for $streams streams (meshd needs one descriptor per stream)" >&2
  exit 1
fi
exec python3 "$here/driver.py"
