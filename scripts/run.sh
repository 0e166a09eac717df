#!/usr/bin/env bash
# Sets up whatever is missing, builds, and runs meshd on loopback with its embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
DATA_DIR=${DATA_DIR:-$PWD/.meshd-data}
echo "run: meshd on http://127.0.0.1:${MESHD_API_PORT:-8080} (data in $DATA_DIR); Ctrl-C stops it"
exec build/meshd --api-listen "127.0.0.1:${MESHD_API_PORT:-8080}" --data-dir "$DATA_DIR" "$@"
