#!/usr/bin/env bash
# The walkthrough's update script: applies the edited JSON files with the AWS CLI, as with App Mesh.
#   update-mesh.sh mesh | <color>-vn | all-vn
# MESHD_ENDPOINT points at meshd (walkthrough.sh up writes it to /tmp/meshd-walkthrough/env).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ENDPOINT=${MESHD_ENDPOINT:-http://198.18.0.1:8080}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-west-2} AWS_PAGER=""
AWS=${AWS:-/usr/bin/aws}

update_vn() {
  "$AWS" appmesh update-virtual-node --cli-input-json "file://$HERE/$1.json" --endpoint-url "$ENDPOINT" \
    --query 'virtualNode.[virtualNodeName, metadata.version]' --output text
}

case "${1:-}" in
  mesh)
    "$AWS" appmesh update-mesh --cli-input-json "file://$HERE/mesh.json" --endpoint-url "$ENDPOINT" \
      --query 'mesh.[meshName, metadata.version]' --output text ;;
  all-vn)
    for f in "$HERE"/*-vn.json; do update_vn "$(basename "$f" .json)"; done ;;
  *-vn)
    [ -f "$HERE/$1.json" ] || { echo "update-mesh.sh: no $1.json here" >&2; exit 1; }
    update_vn "$1" ;;
  *)
    echo "usage: update-mesh.sh mesh | <color>-vn | all-vn" >&2; exit 2 ;;
esac
