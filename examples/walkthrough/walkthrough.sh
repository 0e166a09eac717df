#!/usr/bin/env bash
# The IPv6 walkthrough on one machine: meshd, and one network namespace per task (as ECS awsvpc),
# on a bridge with IPv4 from 198.18.0.0/15 and IPv6 from fd00::/8. No traffic leaves the machine.
#
#   walkthrough.sh up [dns|cloud]     create the network, start meshd, apply the mesh, start the tasks
#   walkthrough.sh down               stop everything and remove every namespace, link and file made
#   walkthrough.sh status             what runs, and meshctl diagnose for the mesh
#   walkthrough.sh curl COLOR [-6]    GET /COLOR through the gateway, over IPv4 (or IPv6)
#   walkthrough.sh exec CMD...        run CMD where the walkthrough's network is (see below)
#
# Needs root (network namespaces, iptables), or else unprivileged user namespaces: then it all runs
# in a user namespace of its own, which `exec` enters. Binaries come from ../../build.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/build}
STATE=${WALKTHROUGH_STATE:-/tmp/meshd-walkthrough}
BRIDGE=mdwt0
HOST4=198.18.0.1
HOST6=fd00:18::1
COLORS=(red orange yellow green blue purple)
# The topology's two columns: what is registered, and what the app listens on.
declare -A DISCOVERABLE=([red]=4 [orange]=4 [yellow]=4 [green]=46 [blue]=46 [purple]=46)
declare -A APP_LISTENS=([red]=ipv4 [orange]=dual [yellow]=ipv6 [green]=ipv4 [blue]=dual [purple]=ipv6)

log() { echo "walkthrough: $*"; }
die() { echo "walkthrough: $*" >&2; exit 1; }

index_of() {  # gateway is task 0, colors 1..6
  [ "$1" = gateway ] && { echo 0; return; }
  local i; for i in "${!COLORS[@]}"; do [ "${COLORS[$i]}" = "$1" ] && { echo $((i + 1)); return; }; done
  die "unknown task $1"
}
addr4() { echo "198.18.0.$((10 + $(index_of "$1")))"; }
addr6() { echo "fd00:18::$((10 + $(index_of "$1")))"; }
ns() { echo "mdwt-$1"; }

need_root() {
  [ "$(id -u)" -eq 0 ] && return
  die "needs root for network namespaces and iptables (ip netns add, veth, bridge, iptables -t nat). Run: sudo $0 $*"
}

# Without root, the walkthrough lives in a user namespace of its own (where this user is root over a
# private network and /run), held open by an anchor process; every command enters it. The host does
# not see that network: reach it with `walkthrough.sh exec CMD...`.
ANCHOR="$STATE.userns-pid"
in_userns() {  # cmd args...: runs this script inside the user namespace, when not root
  [ "$(id -u)" -eq 0 ] && return
  local cmd=$1 rc=0 pid=""; shift
  [ -s "$ANCHOR" ] && kill -0 "$(cat "$ANCHOR")" 2>/dev/null && pid=$(cat "$ANCHOR")
  if [ -z "$pid" ]; then
    [ "$cmd" = up ] || die "not up"
    unshare --user --map-root-user --net true 2>/dev/null ||
      die "needs root for network namespaces and iptables, or unprivileged user namespaces (sysctl user.max_user_namespaces > 0). Run: sudo $0 up"
    unshare --user --map-root-user --net --mount --propagation private \
      sh -c 'mount -t tmpfs tmpfs /run && exec sleep infinity' </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$ANCHOR"
    local i; for i in $(seq 1 50); do [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = sleep ] && break; sleep 0.1; done
    log "not root: the walkthrough runs in a user namespace (anchor pid $pid); use: $0 exec CMD..."
  fi
  nsenter --preserve-credentials --user --net --mount -t "$pid" "$0" "$cmd" "$@" || rc=$?
  if [ "$cmd" = down ] || { [ "$cmd" = up ] && [ $rc -ne 0 ]; }; then
    kill "$pid" 2>/dev/null || true
    rm -f "$ANCHOR"
  fi
  exit $rc
}

start_bg() {  # name, netns ("" for the host), command...
  local name=$1 netns=$2; shift 2
  if [ -n "$netns" ]; then
    setsid ip netns exec "$netns" "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  else
    setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  fi
  echo $! >"$STATE/$name.pid"
}

make_task_network() {  # task
  local task=$1 n; n=$(ns "$task")
  local veth="mdv-$task"; veth=${veth:0:15}
  ip netns add "$n"
  ip link add "$veth" type veth peer name eth0 netns "$n"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$n" link set lo up
  ip -n "$n" addr add "$(addr4 "$task")/24" dev eth0
  ip -n "$n" -6 addr add "$(addr6 "$task")/64" dev eth0 nodad
  ip -n "$n" link set eth0 up
  ip -n "$n" route add default via "$HOST4"
  ip -n "$n" -6 route add default via "$HOST6"
}

wait_ready() {
  local i; for i in $(seq 1 100); do [ -s "$STATE/meshd.ready" ] && return; sleep 0.1; done
  die "meshd did not start: $(tail -3 "$STATE/meshd.log")"
}

register() {  # setup color
  local setup=$1 color=$2 v4 v6 ctl="$BIN/meshctl --endpoint $MESHD_ENDPOINT"
  v4=$(addr4 "$color"); v6=$(addr6 "$color")
  if [ "$setup" = dns ]; then
    if [ "${DISCOVERABLE[$color]}" = 46 ]; then
      $ctl dns set "colorteller-$color.default.svc.cluster.local.dns" --a "$v4" --aaaa "$v6" --ttl 5 >/dev/null
    else
      $ctl dns set "colorteller-$color.default.svc.cluster.local.dns" --a "$v4" --ttl 5 >/dev/null
    fi
  else
    local ns=default.svc.cluster.local.cloud
    $ctl service create "colorteller-$color" --namespace $ns --records A --ttl 5 >/dev/null
    if [ "${DISCOVERABLE[$color]}" = 46 ]; then
      $ctl instance register --namespace $ns --service "colorteller-$color" --id "task-$color" --ipv4 "$v4" --ipv6 "$v6" >/dev/null
    else
      $ctl instance register --namespace $ns --service "colorteller-$color" --id "task-$color" --ipv4 "$v4" >/dev/null
    fi
  fi
}

start_proxy() {  # task resource
  local task=$1 resource=$2
  [ -x "$BIN/meshproxy" ] || { log "no $BIN/meshproxy yet: $task runs without its proxy"; return; }
  start_bg "proxy-$task" "$(ns "$task")" env APPMESH_RESOURCE_ARN="$resource" \
    APPMESH_XDS_ENDPOINT="$HOST4:18000" MESHD_DNS_RESOLVER="$HOST4:5353" ENVOY_ADMIN_ACCESS_PORT=9901 \
    "$BIN/meshproxy"
}

cmd_up() {
  need_root up
  local setup=${1:-dns}
  [ "$setup" = dns ] || [ "$setup" = cloud ] || die "setup must be dns or cloud"
  [ -e "$STATE" ] && die "already up ($STATE exists); run: $0 down"
  for b in meshd meshctl colorteller; do [ -x "$BIN/$b" ] || die "missing $BIN/$b: run scripts/build.sh"; done
  mkdir -p "$STATE"
  echo "$setup" >"$STATE/setup"
  local mesh="appmesh-ipv6-$setup"

  log "network: bridge $BRIDGE ($HOST4, $HOST6) and 7 task namespaces"
  ip link set lo up  # already up on a host; not in the fresh network of a user namespace (matrix.py)
  ip link add "$BRIDGE" type bridge
  ip addr add "$HOST4/24" dev "$BRIDGE"
  ip -6 addr add "$HOST6/64" dev "$BRIDGE" nodad
  ip link set "$BRIDGE" up
  make_task_network gateway
  for c in "${COLORS[@]}"; do make_task_network "$c"; done

  log "meshd on $HOST4 (API 8080, DNS 5353, xDS 18000)"
  start_bg meshd "" "$BIN/meshd" --api-listen "$HOST4:8080" --dns-listen "$HOST4:5353" --xds-listen "$HOST4:18000" \
    --data-dir "$STATE/meshd-data" --ready-file "$STATE/meshd.ready" --log-level warn
  wait_ready
  export MESHD_ENDPOINT="http://$HOST4:8080"
  echo "export MESHD_ENDPOINT=$MESHD_ENDPOINT" >"$STATE/env"

  log "mesh $mesh: applying $HERE/$setup/mesh through the API"
  [ "$setup" = cloud ] && "$BIN/meshctl" --endpoint "$MESHD_ENDPOINT" namespace create default.svc.cluster.local.cloud >/dev/null
  "$BIN/meshctl" --endpoint "$MESHD_ENDPOINT" apply -f "$HERE/$setup/mesh" >/dev/null
  for c in "${COLORS[@]}"; do register "$setup" "$c"; done

  log "tasks: colorteller + sidecar per color, and the gateway"
  for c in "${COLORS[@]}"; do
    local n; n=$(ns "$c")
    # ECS's App Mesh proxy configuration: inbound app-port traffic goes to the sidecar's ingress.
    ip netns exec "$n" iptables -t nat -A PREROUTING -p tcp --dport 9080 -j REDIRECT --to-ports 15000
    ip netns exec "$n" ip6tables -t nat -A PREROUTING -p tcp --dport 9080 -j REDIRECT --to-ports 15000
    start_bg "app-$c" "$n" env COLOR="$c" PORT=9080 "$BIN/colorteller" --listen "${APP_LISTENS[$c]}"
    start_proxy "$c" "mesh/$mesh/virtualNode/colorteller-$c-vn"
  done
  start_proxy gateway "mesh/$mesh/virtualGateway/colorgateway-vg"
  log "up. Gateway: http://$(addr4 gateway):9080 and http://[$(addr6 gateway)]:9080 ; source $STATE/env"
}

cmd_down() {
  need_root down
  if [ -d "$STATE" ]; then
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 0.3
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || true
    done
  fi
  for task in gateway "${COLORS[@]}"; do ip netns del "$(ns "$task")" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$STATE"
  log "down: namespaces, bridge, processes and $STATE removed"
}

cmd_status() {
  [ -d "$STATE" ] || die "not up"
  local setup; setup=$(cat "$STATE/setup")
  for pidfile in "$STATE"/*.pid; do
    local name; name=$(basename "$pidfile" .pid)
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "$name running"; else echo "$name STOPPED"; fi
  done
  "$BIN/meshctl" --endpoint "http://$HOST4:8080" diagnose --mesh "appmesh-ipv6-$setup" colorgateway-vg
}

cmd_curl() {
  local color=${1:?color}
  if [ "${2:-}" = -6 ]; then
    curl -sS -g -m 10 -w ' (%{http_code})\n' "http://[$(addr6 gateway)]:9080/$color"
  else
    curl -sS -m 10 -w ' (%{http_code})\n' "http://$(addr4 gateway):9080/$color"
  fi
}

case "${1:-}" in
  up|down|status|curl|exec) in_userns "$@" ;;
esac
case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  exec) shift; exec "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  curl) shift; cmd_curl "$@" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
