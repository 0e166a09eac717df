#!/usr/bin/env bash
# Builds the DNS fuzz target (src/dns/message_fuzz.cc) with clang's libFuzzer, ASan and UBSan, and runs
# it for the given number of seconds (default 30) on one core. 0 builds and replays the corpus once.
#
#   tools/fuzz_dns.sh [seconds]
#
# The build is apart from the g++ tree, in ${BUILD_DIR:-build}/fuzz/, and is redone only when a source
# changed. The corpus grows in build/fuzz/corpus/ from seeds written here. Exits non-zero when the
# fuzzer finds a crash, a sanitizer report, a leak or a slow input; the input is kept as
# build/fuzz/crash-* (or leak-*, timeout-*), and `build/fuzz/dns_message_fuzz <file>` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${1:-30}
CXX=${FUZZ_CXX:-clang++-14}
OUT=${BUILD_DIR:-build}/fuzz
BIN=$OUT/dns_message_fuzz
SOURCES=(src/dns/message_fuzz.cc src/dns/message.cc src/dns/wire.cc src/dns/name.cc src/dns/zone.cc
         src/dns/lookup.cc src/dns/responder.cc)

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found; scripts/setup.sh installs clang-14 and libclang-rt-14-dev" >&2
  exit 1
fi
mkdir -p "$OUT/corpus" "$OUT/seeds"

if [ ! -x "$BIN" ] || [ -n "$(find src/dns src/common/status.h tools/fuzz_dns.sh -newer "$BIN" \( -name '*.cc' -o -name '*.h' -o -name '*.sh' \) -print -quit)" ]; then
  echo "fuzz: building $BIN"
  # -fno-sanitize-recover: undefined behaviour stops the run instead of scrolling past.
  "$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc "${SOURCES[@]}" -o "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi

# Seeds: well-formed queries for the fuzz target's names and types, with and without EDNS, and a
# response with compressed names, so mutation starts from messages that reach every section.
python3 - "$OUT/seeds" <<'EOF'
import os, struct, sys
out = sys.argv[1]
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"
def query(qid, qname, qtype, edns=None, flags=0x0100, opcode=0):
    header = struct.pack(">HHHHHH", qid, flags | opcode << 11, 1, 0, 0, 1 if edns else 0)
    body = name(qname) + struct.pack(">HH", qtype, 1)
    if edns:
        cookie = struct.pack(">HH", 10, 8) + b"\x01" * 8
        body += b"\0" + struct.pack(">HHIH", 41, edns, 0x8000, len(cookie)) + cookie
    return header + body
seeds = {
    "a": query(1, "web.example.local", 1),
    "aaaa_edns": query(2, "WEB.example.local", 28, edns=1232),
    "srv": query(3, "api.example.local", 33),
    "cname": query(4, "alias.example.local", 1, edns=4096),
    "loop": query(5, "loop.example.local", 28),
    "nxdomain": query(6, "nope.example.local", 1),
    "ent": query(7, "b.c.example.local", 1),
    "soa": query(8, "example.local", 6),
    "ns": query(9, "example.local", 2),
    "any": query(10, "web.example.local", 255),
    "many": query(11, "many.example.local", 1),
    "refused": query(12, "example.com", 1),
    "notify": query(13, "example.local", 6, opcode=4),
}
# A response: question, then an A answer and an SRV answer whose owners point back at the question.
resp = struct.pack(">HHHHHH", 14, 0x8400, 1, 2, 0, 0) + name("api.example.local") + struct.pack(">HH", 33, 1)
resp += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([10, 0, 0, 1])
target = b"\x03i-1\xc0\x0c"
resp += b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, 6 + len(target)) + struct.pack(">HHH", 1, 1, 80) + target
seeds["response"] = resp
for key, data in seeds.items():
    with open(os.path.join(out, key), "wb") as f:
        f.write(data)
EOF

LOG=$OUT/fuzz.log
if [ "$SECONDS_TO_RUN" -eq 0 ]; then
  RUN=(-runs=0)
else
  RUN=(-max_total_time="$SECONDS_TO_RUN")
fi
echo "fuzz: running ${SECONDS_TO_RUN}s, log in $LOG"
status=0
UBSAN_OPTIONS=print_stacktrace=1 "$BIN" "${RUN[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus" "$OUT/seeds" >"$LOG" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  tail -n 60 "$LOG" >&2
  echo "fuzz: FAILED (exit $status); the input is in $OUT/" >&2
  exit "$status"
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG")
echo "fuzz: ok, ${runs:-?} inputs in ${SECONDS_TO_RUN}s (${rate:-?} exec/s), corpus $(ls "$OUT/corpus" | wc -l) files"
