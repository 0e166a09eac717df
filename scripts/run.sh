#!/usr/bin/env bash
# Sets up whatever is missing, builds, and runs the main job:
#   scripts/run.sh [dns|cloud]   the IPv6 walkthrough on this machine (root): meshd, six colorteller
#                                tasks with meshproxy sidecars and the gateway, one network namespace
#                                each; prints the outcome matrix and leaves it up for curl
#   scripts/run.sh meshd [...]   meshd alone on 127.0.0.1:8080 with its embedded store (no root)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
job=${1:-dns}
if [ "$job" = meshd ]; then
  shift
  DATA_DIR=${DATA_DIR:-$PWD/.meshd-data}
  echo "run: meshd on http://127.0.0.1:${MESHD_API_PORT:-8080} (data in $DATA_DIR); Ctrl-C stops it"
  exec build/meshd --api-listen "127.0.0.1:${MESHD_API_PORT:-8080}" --data-dir "$DATA_DIR" "$@"
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  # No root and no sudo: the whole walkthrough in a user namespace of its own, for this run only.
  exec examples/walkthrough/matrix.py --setup "$job"
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO examples/walkthrough/matrix.py --setup "$job" --keep
cat <<EOT
run: the walkthrough ($job setup) is up. Try:
  examples/walkthrough/walkthrough.sh curl blue          # through the gateway, over IPv4
  examples/walkthrough/walkthrough.sh curl blue -6       # over IPv6
  examples/walkthrough/walkthrough.sh status             # processes, and meshctl diagnose
  source /tmp/meshd-walkthrough/env; examples/walkthrough/$job/mesh/update-mesh.sh mesh   # after editing mesh.json
  examples/walkthrough/walkthrough.sh down               # removes everything it made
EOT
