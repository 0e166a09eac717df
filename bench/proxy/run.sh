#!/usr/bin/env bash
# HTTP/1.1 keep-alive proxy benchmark over loopback: wrk against one upstream (nginx serving static
# files) directly, through meshproxy, HAProxy and nginx (see driver.py for what it measures).
# Not a test. It loads every CPU: on a shared machine run it as
#   flock /tmp/meshd-build.lock bench/proxy/run.sh
# Environment: PROXY_DURATION (10 s), PROXY_WARMUP (2 s), PROXY_CONNECTIONS (64), PROXY_WORKERS (1),
# PROXY_ROUNDS (5), PROXY_CPUS (1), LOAD_CPUS (0), PROXY_TARGETS, BUILD_DIR (build), MESHD_BIN,
# MESHCTL_BIN, MESHPROXY_BIN, MESHPROXY_BASE_BIN (target meshproxy-base: another build, for A/B),
# PROXY_JSON (write results here too). `run.sh instructions` counts user-space instructions per
# request instead (instructions.py: INSTR_REQUESTS, INSTR_WARMUP).
# Needs: cmake --build build --target meshd meshctl meshproxy; wrk, haproxy and nginx (installed
# here with apt-get when missing, without starting their system services).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
export MESHD_BIN="${MESHD_BIN:-$build/meshd}"
export MESHCTL_BIN="${MESHCTL_BIN:-$build/meshctl}"
export MESHPROXY_BIN="${MESHPROXY_BIN:-$build/meshproxy}"
for b in "$MESHD_BIN" "$MESHCTL_BIN" "$MESHPROXY_BIN"; do
  [[ -x "$b" ]] || { echo "run.sh: $b missing: cmake --build $build --target meshd meshctl meshproxy" >&2; exit 1; }
done

missing=()
tools=(wrk:wrk haproxy:haproxy nginx:nginx taskset:util-linux)
[[ "${1:-}" == instructions ]] && tools+=(valgrind:valgrind)
for tool in "${tools[@]}"; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if (( ${#missing[@]} )); then
  (( EUID == 0 )) || { echo "run.sh: missing ${missing[*]}: apt-get install ${missing[*]} (as root)" >&2; exit 1; }
  # The packages' maintainer scripts would start the system nginx and haproxy; a policy-rc.d that
  # says no (101) stops that. One already there is left as it is.
  made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    trap '[[ -n "$made_policy" ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [[ -n "$made_policy" ]]; then rm -f /usr/sbin/policy-rc.d; made_policy=""; fi
fi

ulimit -n "$(ulimit -Hn)"
# `run.sh instructions`: user-space instructions per request under callgrind (instructions.py).
[[ "${1:-}" == instructions ]] && exec python3 "$here/instructions.py"
exec python3 "$here/driver.py"
