#!/usr/bin/env python3
"""xDS scale benchmark driver (run it through run.sh). Python standard library only.

Starts meshd on free loopback ports over a temporary data dir, creates one mesh with M virtual nodes
(DNS service discovery, one http listener on 9080 with a health check, backends to the next B nodes'
virtual services), starts N simulated Envoys (xds_load) spread over P processes, waits for their
initial sync, then measures two changes:
  (a) the mesh's ipPreference IPv4_ONLY -> IPv6_ONLY: every proxy is affected;
  (b) node vn-0's own ipPreference -> IPv4_PREFERRED: only vn-0 and its callers (vn-(M-1) .. vn-(M-B))
      are affected.
For each: time from the API call until every affected stream has received its last response and
written its ACK, pushes and bytes the clients received, CPU seconds of meshd and of the load clients
(they share the machine), meshd peak RSS, and whether only the dependents were pushed. Prints a
markdown table.

Configuration (environment): XDS_STREAMS (N, 1000), XDS_NODES (M, 100), XDS_BACKENDS (B, 3),
XDS_PROCS (P, one per 2500 streams, at least 2), XDS_RATE (streams opened per second per process,
1000), XDS_SYNC_TIMEOUT (s, 180), XDS_QUIET_MS (a phase ends after this long without a response,
1000), MESHD_BIN, XDS_LOAD_BIN, MESHD_LOG_LEVEL (warn), XDS_PERF (a path: record meshd with
`perf record -g` during each change, to PATH.a and PATH.b).
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = int(os.environ.get("XDS_STREAMS", "1000"))
M = int(os.environ.get("XDS_NODES", "100"))
B = int(os.environ.get("XDS_BACKENDS", "3"))
P = int(os.environ.get("XDS_PROCS", str(max(2, -(-N // 2500)))))
RATE = float(os.environ.get("XDS_RATE", "1000"))
SYNC_TIMEOUT = float(os.environ.get("XDS_SYNC_TIMEOUT", "180"))
QUIET_NS = int(os.environ.get("XDS_QUIET_MS", "1000")) * 1_000_000
PHASE_TIMEOUT = 120.0
MESHD_BIN = os.environ["MESHD_BIN"]
XDS_LOAD_BIN = os.environ["XDS_LOAD_BIN"]
MESH = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- meshd ----------------------------------------------------------------------------------------

class Meshd:
    def __init__(self, root: Path):
        self.root = root
        self.ready = root / "ready.json"
        self.logf = open(root / "meshd.log", "wb")
        cmd = [MESHD_BIN, "--api-listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
               "--xds-listen", "127.0.0.1:0", "--data-dir", str(root / "data"),
               "--ready-file", str(self.ready), "--log-level", os.environ.get("MESHD_LOG_LEVEL", "warn"),
               "--quota", f"virtualNodes={M + 10}", "--quota", f"virtualServices={M + 10}"]
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        self.proc = subprocess.Popen(prefix + cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"meshd exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                r = json.loads(self.ready.read_text())
                self.api, self.xds = r["api"], r["xds"]
                break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                if time.monotonic() > deadline:
                    raise RuntimeError("meshd: no ready file\n" + self.log_tail())
                time.sleep(0.02)
        for addr in (self.api, self.xds):
            if not addr.startswith("127.0.0.1:"):
                raise RuntimeError(f"meshd reported a non-loopback address {addr}")
        host, port = self.api.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.conn = None

    def log_tail(self):
        try:
            return (self.root / "meshd.log").read_bytes()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                if resp.status != 200:
                    raise RuntimeError(f"{method} {path} -> {resp.status} {text[:300]!r}")
                return json.loads(text) if text else None
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def status(self):
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "Threads"):
                out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log("meshd did not stop within 20 s of SIGTERM: killed")
                self.proc.kill()
                self.proc.wait()
            if self.proc.returncode != 0:
                log(f"meshd exited with {self.proc.returncode}\n{self.log_tail()}")
        self.logf.close()


# ---- the mesh -------------------------------------------------------------------------------------

def vn(i):
    return f"vn-{i}"


def vs(i):
    return f"vs-{i}.bench.local"


def node_spec(i, backends=True, pref=None):
    dns = {"hostname": f"vn-{i}.bench.local"}
    if pref:
        dns["ipPreference"] = pref
    spec = {"listeners": [{"portMapping": {"port": 9080, "protocol": "http"},
                           "healthCheck": {"protocol": "http", "path": "/ping", "healthyThreshold": 2,
                                           "unhealthyThreshold": 2, "intervalMillis": 5000,
                                           "timeoutMillis": 2000}}],
            "serviceDiscovery": {"dns": dns}}
    if backends:
        spec["backends"] = [{"virtualService": {"virtualServiceName": vs((i + k) % M)}}
                            for k in range(1, B + 1) if (i + k) % M != i]
    return spec


def mesh_spec(pref):
    return {"egressFilter": {"type": "DROP_ALL"}, "serviceDiscovery": {"ipPreference": pref}}


def create_mesh(meshd):
    t = time.monotonic()
    base = f"/v20190125/meshes/{MESH}"
    meshd.request("PUT", "/v20190125/meshes", {"meshName": MESH, "spec": mesh_spec("IPv4_ONLY")})
    for i in range(M):  # nodes first, then their services, then the backends (which name services)
        meshd.request("PUT", f"{base}/virtualNodes", {"virtualNodeName": vn(i), "spec": node_spec(i, False)})
    for i in range(M):
        meshd.request("PUT", f"{base}/virtualServices",
                      {"virtualServiceName": vs(i), "spec": {"provider": {"virtualNode": {"virtualNodeName": vn(i)}}}})
    for i in range(M):
        meshd.request("PUT", f"{base}/virtualNodes/{vn(i)}", {"spec": node_spec(i)})
    log(f"mesh with {M} virtual nodes, {M} virtual services created in {time.monotonic() - t:.1f} s")


# ---- load clients ---------------------------------------------------------------------------------

def thread_cpu(pid):
    """tid -> (thread name, utime+stime ticks) for every thread of `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        f = text.rsplit(")", 1)[1].split()
        out[tid] = (name, int(f[11]) + int(f[12]))
    return out


class Loader:
    def __init__(self, xds, nodes_file, streams, offset):
        self.proc = subprocess.Popen([XDS_LOAD_BIN, "--server", xds, "--nodes-file", str(nodes_file),
                                      "--streams", str(streams), "--offset", str(offset), "--rate", str(RATE)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"xds_load exited ({self.proc.poll()})")
        return json.loads(line)

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def stats(loaders):
    total = {"started": 0, "ended": 0, "synced": 0, "responses": 0, "bytes": 0, "last_response_ns": 0, "endings": {}}
    for l in loaders:
        s = l.ask("stats")
        for k in ("started", "ended", "synced", "responses", "bytes"):
            total[k] += s[k]
        total["last_response_ns"] = max(total["last_response_ns"], s["last_response_ns"])
        for m, n in s["endings"].items():
            total["endings"][m] = total["endings"].get(m, 0) + n
    return total


def report(loaders):
    nodes = {}
    for l in loaders:
        for name, n in l.ask("report")["nodes"].items():
            a = nodes.setdefault(name, {"streams": 0, "pushed": 0, "pushes": 0, "bytes": 0, "first_ns": 0, "last_ns": 0,
                                        "acked_ns": 0})
            for k in ("streams", "pushed", "pushes", "bytes"):
                a[k] += n[k]
            if n["first_ns"] and (not a["first_ns"] or n["first_ns"] < a["first_ns"]):
                a["first_ns"] = n["first_ns"]
            a["last_ns"] = max(a["last_ns"], n["last_ns"])
            a["acked_ns"] = max(a["acked_ns"], n["acked_ns"])
    return nodes


def node_id(i):
    return f"mesh/{MESH}/virtualNode/{vn(i)}"


def measure(name, meshd, loaders, change, affected):
    """Marks, makes `change`, and waits until every stream of an `affected` node id was pushed and no
    response came for QUIET_NS. Returns a result row."""
    for l in loaders:
        l.ask("mark")
    perf = None
    if os.environ.get("XDS_PERF"):
        out = f"{os.environ['XDS_PERF']}.{name[1]}"
        perf = subprocess.Popen(["perf", "record", "-g", "-o", out, "-p", str(meshd.proc.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf needs a moment to attach
    cpu0 = meshd.cpu_seconds()
    loaders_cpu0 = sum(l.cpu_seconds() for l in loaders)
    t0 = time.monotonic_ns()
    change()
    deadline = time.monotonic() + PHASE_TIMEOUT
    while True:
        time.sleep(0.25)
        nodes = report(loaders)
        want = sum(n["streams"] for k, n in nodes.items() if k in affected)
        got = sum(n["pushed"] for k, n in nodes.items() if k in affected)
        last = max([n["last_ns"] for n in nodes.values()] + [t0])
        now = time.monotonic_ns()
        if got == want and now - last > QUIET_NS:
            break
        if time.monotonic() > deadline:
            log(f"{name}: timed out with {got}/{want} affected streams pushed")
            break
    cpu = meshd.cpu_seconds() - cpu0
    loaders_cpu = sum(l.cpu_seconds() for l in loaders) - loaders_cpu0
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    st = meshd.status()
    aff = [n for k, n in nodes.items() if k in affected]
    others = [n for k, n in nodes.items() if k not in affected]
    row = {
        "phase": name,
        "affected_streams": want,
        "pushed_streams": got,
        "ms_to_all_acked": (max([n["acked_ns"] for n in aff] + [t0]) - t0) / 1e6,
        "ms_to_last_push": (max([n["last_ns"] for n in aff] + [t0]) - t0) / 1e6,
        "ms_to_first_push_all": (max([n["first_ns"] for n in aff] + [t0]) - t0) / 1e6 if got == want else None,
        "pushes": sum(n["pushes"] for n in nodes.values()),
        "bytes": sum(n["bytes"] for n in nodes.values()),
        "other_streams_pushed": sum(n["pushed"] for n in others),
        "cpu_s": cpu,
        "loaders_cpu_s": loaders_cpu,
        "peak_rss_mb": st["VmHWM"] / 1024,
        "threads": st["Threads"],
        "fds": st["fds"],
    }
    row["only_dependents"] = row["other_streams_pushed"] == 0 and got == want
    log(f"{name}: {json.dumps(row)}")
    return row


def main():
    root = Path(tempfile.mkdtemp(prefix="meshd-bench-"))
    meshd, loaders = None, []
    rows = []
    try:
        (root / "data").mkdir()
        meshd = Meshd(root)
        log(f"meshd pid {meshd.proc.pid} api {meshd.api} xds {meshd.xds}; N={N} streams, M={M} nodes, "
            f"B={B} backends, P={P} processes, ulimit -n {os.sysconf('SC_OPEN_MAX')}")
        create_mesh(meshd)
        nodes_file = root / "nodes.txt"
        nodes_file.write_text("".join(node_id(i) + "\n" for i in range(M)))

        # Initial sync.
        cpu0 = meshd.cpu_seconds()
        t0 = time.monotonic_ns()
        per, offset = N // P, 0
        for p in range(P):
            n = per + (1 if p < N % P else 0)
            loaders.append(Loader(meshd.xds, nodes_file, n, offset))
            offset += n
        deadline = time.monotonic() + SYNC_TIMEOUT
        last_print = 0
        while True:
            time.sleep(0.5)
            s = stats(loaders)
            now = time.monotonic_ns()
            if time.monotonic() - last_print > 5:
                st = meshd.status()
                log(f"sync: {s['synced']}/{N} synced, {s['ended']} ended, meshd threads {st['Threads']} "
                    f"fds {st['fds']} rss {st['VmRSS'] // 1024} MB {s['endings'] or ''}")
                last_print = time.monotonic()
            if s["synced"] == N and now - s["last_response_ns"] > QUIET_NS:
                break
            if meshd.proc.poll() is not None:
                raise RuntimeError(f"meshd died ({meshd.proc.returncode})\n{meshd.log_tail()}")
            if time.monotonic() > deadline:
                log(f"initial sync incomplete after {SYNC_TIMEOUT} s: {s}")
                break
        st = meshd.status()
        loaders_cpu = sum(l.cpu_seconds() for l in loaders)
        rows.append({"phase": "initial sync", "affected_streams": N, "pushed_streams": s["synced"],
                     "loaders_cpu_s": loaders_cpu,
                     "ms_to_all_acked": (s["last_response_ns"] - t0) / 1e6, "ms_to_first_push_all": None,
                     "pushes": s["responses"], "bytes": s["bytes"], "other_streams_pushed": 0,
                     "cpu_s": meshd.cpu_seconds() - cpu0, "peak_rss_mb": st["VmHWM"] / 1024,
                     "threads": st["Threads"], "fds": st["fds"], "only_dependents": None,
                     "ended": s["ended"], "endings": s["endings"]})
        log(f"initial sync: {json.dumps(rows[-1])}")
        if s["synced"] < N:
            return rows, False

        # Idle: nothing changes; what do N open streams cost, and which of meshd's threads spend it?
        threads0 = thread_cpu(meshd.proc.pid)
        cpu0, w0 = meshd.cpu_seconds(), time.monotonic()
        time.sleep(3)
        idle = (meshd.cpu_seconds() - cpu0) / (time.monotonic() - w0)
        threads1 = thread_cpu(meshd.proc.pid)
        by_name = {}
        for tid, (name, ticks) in threads1.items():
            by_name[name] = by_name.get(name, 0) + ticks - threads0.get(tid, (name, 0))[1]
        top = sorted(((t / CLK_TCK, n) for n, t in by_name.items() if t), reverse=True)[:5]
        rows[-1]["idle_cpu"] = idle
        rows[-1]["idle_threads"] = ", ".join(f"{n} {s:.2f} s" for s, n in top)
        log(f"idle: meshd uses {idle:.3f} CPU-seconds per second with {N} streams open; "
            f"by thread name over ~3 s: {rows[-1]['idle_threads']}")

        everyone = {node_id(i) for i in range(M)}
        rows.append(measure("(a) mesh IPv4_ONLY→IPv6_ONLY", meshd, loaders,
                            lambda: meshd.request("PUT", f"/v20190125/meshes/{MESH}", {"spec": mesh_spec("IPv6_ONLY")}),
                            everyone))
        dependents = {node_id(0)} | {node_id((M - k) % M) for k in range(1, B + 1)}
        rows.append(measure("(b) vn-0 →IPv4_PREFERRED", meshd, loaders,
                            lambda: meshd.request("PUT", f"/v20190125/meshes/{MESH}/virtualNodes/{vn(0)}",
                                                  {"spec": node_spec(0, pref="IPv4_PREFERRED")}),
                            dependents))
        return rows, True
    finally:
        for l in loaders:
            l.stop()
        if meshd:
            meshd.stop()
        shutil.rmtree(root, ignore_errors=True)
        print_table(rows)


def print_table(rows):
    if not rows:
        return
    print(f"\nN={N} streams, M={M} virtual nodes ({N / M:.0f} streams per node), B={B} backends each, "
          f"{P} load processes, {os.cpu_count()} cores\n")
    print("| phase | affected streams | pushed | time to all ACKed (ms) | pushes | bytes received | "
          "meshd CPU (s) | load clients CPU (s) | meshd peak RSS (MB) | meshd threads | only dependents |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        od = "—" if r["only_dependents"] is None else ("yes" if r["only_dependents"] else
                                                         f"no ({r['other_streams_pushed']} others)")
        lcpu = f"{r['loaders_cpu_s']:.2f}" if "loaders_cpu_s" in r else "—"
        print(f"| {r['phase']} | {r['affected_streams']} | {r['pushed_streams']} | {r['ms_to_all_acked']:.0f} | "
              f"{r['pushes']} | {r['bytes']} | {r['cpu_s']:.2f} | {lcpu} | {r['peak_rss_mb']:.0f} | {r['threads']} | {od} |")
    if "idle_cpu" in rows[0]:
        print(f"\nIdle (no changes, {N} streams open): meshd uses {rows[0]['idle_cpu']:.3f} CPU-seconds per second "
              f"(busiest thread names: {rows[0]['idle_threads'] or 'none'}).")
    sys.stdout.flush()


if __name__ == "__main__":
    _, ok = main()
    sys.exit(0 if ok else 1)
