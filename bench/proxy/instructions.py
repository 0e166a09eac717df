#!/usr/bin/env python3
"""User-space instructions per proxied request, counted by callgrind: a figure that does not move with
the machine's load, for A/B comparisons that req/s on a shared machine (±10% round to round) cannot
settle. Only the proxy's own code and libraries count; the kernel's share of a request (most of it) does
not, so this measures what a change to meshproxy's code saves, not throughput.

Each target (meshproxy, meshproxy-base, haproxy, nginx, haproxy-plain, nginx-plain as in driver.py) runs
alone under `valgrind --tool=callgrind` in front of the bench's upstream, the same way driver.py sets it up; after
INSTR_WARMUP requests the counters are zeroed, INSTR_REQUESTS requests later dumped (and copied to
INSTR_KEEP, a directory, for callgrind_annotate).
Run with bench/proxy/run.sh's environment: `bench/proxy/run.sh instructions` does.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import driver
from driver import BODIES, Procs, free_port, get, eventually, log

TARGETS = os.environ.get("PROXY_TARGETS", "meshproxy,haproxy,nginx").split(",")
WARMUP = int(os.environ.get("INSTR_WARMUP", "2000"))
KEEP = os.environ.get("INSTR_KEEP", "")  # a directory: each measurement's dump is copied there, for callgrind_annotate
REQUESTS = int(os.environ.get("INSTR_REQUESTS", "20000"))


def requests(port: int, path: str, n: int):
    """n keep-alive requests over 4 connections (wrk cannot stop at a count)."""
    script = ("import http.client,sys\n"
              "c=http.client.HTTPConnection('127.0.0.1',%d)\n"
              "for _ in range(%d):\n"
              "  c.request('GET','%s'); r=c.getresponse(); r.read()\n"
              "  assert r.status==200\n") % (port, n // 4, path)
    ps = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    if any(p.wait() != 0 for p in ps):
        raise RuntimeError(f"requests to :{port}{path} failed")


def totals(out_dir: Path) -> int:
    """Instructions in the newest dump callgrind_control wrote."""
    dumps = sorted(out_dir.glob("cg.out.*"), key=lambda p: p.stat().st_mtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dumps[-1]}")


def main() -> int:
    if not shutil.which("valgrind"):
        raise SystemExit("instructions.py needs valgrind (apt-get install valgrind)")
    root = Path(tempfile.mkdtemp(prefix="bench-instr-"))
    procs = Procs(root)
    try:
        up = free_port()
        procs.start("upstream", ["nginx", "-p", str(root), "-e", str(root / "upstream-error.log"),
                                 "-c", str(driver.upstream_config(root, up))])
        meshd = driver.start_meshd(procs, root, up) if any(t.startswith("meshproxy") for t in TARGETS) else None
        rows = []
        for target in TARGETS:
            out_dir = root / f"cg-{target}"
            out_dir.mkdir()
            vg = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out_dir}/cg.out"]
            port = free_port()
            if target.startswith("meshproxy"):
                binary = driver.MESHPROXY if target == "meshproxy" else driver.MESHPROXY_BASE
                wrapper = root / f"{target}.sh"
                wrapper.write_text(f"#!/bin/sh\nexec {' '.join(vg)} {binary} \"$@\"\n")
                wrapper.chmod(0o755)
                p = driver.start_meshproxy(procs, root, meshd, target, str(wrapper), port,
                                           driver.MESHPROXY_ARGS if target == "meshproxy" else driver.MESHPROXY_BASE_ARGS)
            elif target in ("haproxy", "haproxy-plain"):
                conf = driver.haproxy_config(root, target, port, up, envoy_headers=target == "haproxy")
                p = procs.start(target, vg + ["haproxy", "-db", "-f", str(conf)])
            elif target in ("nginx", "nginx-plain"):
                conf = driver.nginx_proxy_config(root, target, port, up, envoy_headers=target == "nginx")
                p = procs.start(target, vg + ["--trace-children=yes", "nginx", "-p", str(root), "-e",
                                              str(root / f"{target}-error.log"), "-c", str(conf)])
            else:
                raise SystemExit(f"unknown target {target}")
            if not eventually(lambda: get(port, "/small", timeout=20)[0] == 200, timeout=120):
                raise RuntimeError(f"{target} does not serve: " + procs.log_tail(target))
            for size in BODIES:
                requests(port, "/" + size, WARMUP)
                subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
                requests(port, "/" + size, REQUESTS)
                subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
                time.sleep(0.5)
                n = totals(out_dir)
                if KEEP:
                    Path(KEEP).mkdir(parents=True, exist_ok=True)
                    newest = max(out_dir.glob("cg.out.*"), key=lambda f: f.stat().st_mtime)
                    shutil.copy(newest, Path(KEEP) / f"{target}-{size}.callgrind")
                rows.append((size, target, n / REQUESTS))
                log(f"{target} {size}: {n / REQUESTS:.0f} instructions/request")
            p.terminate()
            p.wait(timeout=60)
        print(f"\nuser-space instructions per request (callgrind), {REQUESTS} requests after {WARMUP}\n")
        print("| body | target | instructions/request |")
        print("|---|---|---:|")
        for size, target, per in rows:
            print(f"| {size} | {target} | {per:.0f} |")
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
