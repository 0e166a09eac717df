#!/usr/bin/env python3
"""Proxy benchmark driver (bench/proxy/run.sh runs it): HTTP/1.1 keep-alive over loopback.

One upstream, nginx serving two static files (a small body and 16 KiB), is measured with wrk:
  - direct: wrk to the upstream (the ceiling);
  - meshproxy: a virtual gateway configured by a real meshd over ADS (gateway route "/" to a virtual
    service whose node is found through Cloud Map at the upstream's address);
  - haproxy, nginx: the same reverse proxy as static configuration, doing the header work Envoy (and
    so meshproxy) does on every request: an x-request-id (a random UUID) and x-forwarded-proto for
    a request without them, x-envoy-expected-rq-timeout-ms upstream; server and
    x-envoy-upstream-service-time on the response;
  - haproxy-plain, nginx-plain: the bare reverse proxies, with none of that work.
Every proxy runs PROXY_WORKERS worker threads (processes for nginx) pinned to PROXY_CPUS and keeps
HTTP/1.1 connections to the upstream alive and reused by any request; wrk (one thread) and the
upstream (one worker) share LOAD_CPUS. Each measurement is a PROXY_WARMUP s wrk run, then a
PROXY_DURATION s one with --latency; PROXY_ROUNDS rounds, the round with the median req/s is
reported. "cpu" is the proxy's user+system CPU time over the measured run per request (µs), "busy"
that time over the run's wall time (100% of one CPU is 1.00: the proxy, not the load, is the limit).
Everything (ports, configs, meshd's store) lives in a temporary directory removed at the end; every
process started here is stopped at exit, and killed if this driver dies.
"""
import datetime
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MESHD = os.environ["MESHD_BIN"]
MESHCTL = os.environ["MESHCTL_BIN"]
MESHPROXY = os.environ["MESHPROXY_BIN"]
DURATION = int(os.environ.get("PROXY_DURATION", "10"))
WARMUP = int(os.environ.get("PROXY_WARMUP", "2"))
CONNECTIONS = int(os.environ.get("PROXY_CONNECTIONS", "64"))
WORKERS = int(os.environ.get("PROXY_WORKERS", "1"))
ROUNDS = int(os.environ.get("PROXY_ROUNDS", "5"))
PROXY_CPUS = os.environ.get("PROXY_CPUS", "1")
LOAD_CPUS = os.environ.get("LOAD_CPUS", "0")
TARGETS = os.environ.get("PROXY_TARGETS", "direct,meshproxy,haproxy,nginx,haproxy-plain,nginx-plain").split(",")
# meshproxy is measured against each group's better peer: the peers configured to do what it does,
# and the bare ones.
PEER_GROUPS = (("haproxy", "nginx"), ("haproxy-plain", "nginx-plain"))
RESULT_JSON = os.environ.get("PROXY_JSON", "")
PROFILE_DIR = os.environ.get("PROXY_PROFILE", "")
MESHPROXY_ARGS = os.environ.get("MESHPROXY_ARGS", "").split()  # e.g. "--event-nap-us 0"
# Target meshproxy-base: another build (MESHPROXY_BASE_BIN, default this one) or other arguments, for A/B.
MESHPROXY_BASE = os.environ.get("MESHPROXY_BASE_BIN", MESHPROXY)
MESHPROXY_BASE_ARGS = os.environ.get("MESHPROXY_BASE_ARGS", os.environ.get("MESHPROXY_ARGS", "")).split()
SMALL_BODY = b"hello from the upstream, 64 bytes of body for the small case...\n"
BODIES = {"small": SMALL_BODY, "16k": bytes((i * 7 + 13) % 26 + 97 for i in range(16384))}
MESH = "bench"
NS = "bench.local"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str):
    print(f"[bench/proxy] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def eventually(fn, timeout: float = 30, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


class Procs:
    """Every child process, each with its log file; stop_all() is idempotent."""

    def __init__(self, root: Path):
        self.root = root
        self.procs = []
        setpriv = shutil.which("setpriv")
        self.prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []

    def start(self, name: str, args, cpus=None, env=None) -> subprocess.Popen:
        logf = open(self.root / f"{name}.log", "wb")
        pin = ["taskset", "-c", cpus] if cpus else []
        p = subprocess.Popen(self.prefix + pin + list(args), stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, env=env, cwd=self.root)
        p.bench_name, p.bench_log = name, logf
        self.procs.append(p)
        return p

    def log_tail(self, name: str) -> str:
        try:
            return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.bench_log.close()
        self.procs = []


def cpu_seconds(pid: int) -> "tuple[float, float]":
    """(utime, stime) of a process (all its threads) and of its live descendants (nginx's workers)."""
    user = system = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / CLK_TCK
            system += int(fields[12]) / CLK_TCK
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return user, system


# --- configurations ---------------------------------------------------------------------------

def nginx_common(root: Path, name: str, workers: int) -> str:
    tmp = root / f"{name}-tmp"
    tmp.mkdir()
    return f"""daemon off;
master_process {"on" if workers > 1 else "off"};
worker_processes {workers};
pid {root}/{name}.pid;
error_log {root}/{name}-error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
"""


def upstream_config(root: Path, port: int) -> Path:
    www = root / "www"
    www.mkdir()
    for name, body in BODIES.items():
        (www / name).write_bytes(body)
    conf = root / "upstream.conf"
    conf.write_text(nginx_common(root, "upstream", 1) + f"""
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=16 inactive=300s;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    root {www};
    location / {{ }}
  }}
}}
""")
    return conf


# Envoy's request and response headers, as nginx adds them (nginx's $request_id is 32 hex digits,
# Envoy's a UUID; nginx cannot replace its own server header).
NGINX_ENVOY_HEADERS = ("""
  map $http_x_request_id $envoy_request_id { "" $request_id; default $http_x_request_id; }
  map $http_x_forwarded_proto $envoy_forwarded_proto { "" $scheme; default $http_x_forwarded_proto; }
""", """
      proxy_set_header x-request-id $envoy_request_id;
      proxy_set_header x-forwarded-proto $envoy_forwarded_proto;
      proxy_set_header x-envoy-expected-rq-timeout-ms 15000;
      add_header x-envoy-upstream-service-time $upstream_header_time;""")


def nginx_proxy_config(root: Path, name: str, port: int, upstream: int, envoy_headers: bool) -> Path:
    conf = root / f"{name}.conf"
    http, location = NGINX_ENVOY_HEADERS if envoy_headers else ("", "")
    conf.write_text(nginx_common(root, name, WORKERS) + http + f"""
  upstream up {{
    server 127.0.0.1:{upstream};
    keepalive {CONNECTIONS};
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";{location}
    }}
  }}
}}
""")
    return conf


# Envoy's request and response headers, as HAProxy adds them.
HAPROXY_ENVOY_HEADERS = """  http-request set-header x-request-id %[uuid] unless { req.hdr(x-request-id) -m found }
  http-request set-header x-forwarded-proto http unless { req.hdr(x-forwarded-proto) -m found }
  http-request set-header x-envoy-expected-rq-timeout-ms 15000
  http-response set-header server envoy
  http-response set-header x-envoy-upstream-service-time %Tr
"""


def haproxy_config(root: Path, name: str, port: int, upstream: int, envoy_headers: bool) -> Path:
    conf = root / f"{name}.cfg"
    headers = HAPROXY_ENVOY_HEADERS if envoy_headers else ""
    conf.write_text(f"""global
  nbthread {WORKERS}
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend fe
  bind 127.0.0.1:{port}
{headers}  default_backend be
backend be
  server up 127.0.0.1:{upstream}
""")
    return conf


def meshctl(endpoint: str, *args):
    r = subprocess.run([MESHCTL, "--endpoint", endpoint, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"meshctl {' '.join(args)}: {r.stderr}")


def start_meshd(procs: Procs, root: Path, upstream: int) -> dict:
    """meshd with the mesh every meshproxy target shares: the upstream, found through Cloud Map, as a
    virtual service. Each meshproxy target is a virtual gateway of its own (start_meshproxy)."""
    ready = root / "meshd-ready.json"
    procs.start("meshd", [MESHD, "--api-listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
                          "--xds-listen", "127.0.0.1:0", "--data-dir", str(root / "meshd-data"),
                          "--ready-file", str(ready), "--log-level", "warn"], cpus=LOAD_CPUS)
    if not eventually(ready.exists):
        raise RuntimeError("meshd did not start: " + procs.log_tail("meshd"))
    time.sleep(0.1)
    addrs = json.loads(ready.read_text())
    ep = "http://" + addrs["api"]
    meshctl(ep, "namespace", "create", NS)
    meshctl(ep, "service", "create", "upstream", "--namespace", NS, "--records", "A")
    meshctl(ep, "instance", "register", "--namespace", NS, "--service", "upstream", "--id", "upstream-1",
            "--ipv4", "127.0.0.1", "--port", str(upstream))
    apply(root, ep, {
        "mesh": {"meshName": MESH, "spec": {}},
        "vn": {"meshName": MESH, "virtualNodeName": "upstream", "spec": {
            "listeners": [{"portMapping": {"port": upstream, "protocol": "http"}}],
            "serviceDiscovery": {"awsCloudMap": {"namespaceName": NS, "serviceName": "upstream"}}}},
        "vs": {"meshName": MESH, "virtualServiceName": "upstream.bench.local",
               "spec": {"provider": {"virtualNode": {"virtualNodeName": "upstream"}}}},
    })
    return {"endpoint": ep, **addrs}


def apply(root: Path, ep: str, resources: dict):
    for name, spec in resources.items():  # parents first
        path = root / f"{name}.json"
        path.write_text(json.dumps(spec))
        meshctl(ep, "apply", "-f", str(path))


def start_meshproxy(procs: Procs, root: Path, meshd: dict, name: str, binary: str, port: int,
                    args=None) -> subprocess.Popen:
    """The virtual gateway `name` listening on `port` (route "/" to the upstream's virtual service),
    served by the meshproxy at `binary`."""
    apply(root, meshd["endpoint"], {
        f"{name}-gw": {"meshName": MESH, "virtualGatewayName": name, "spec": {
            "listeners": [{"portMapping": {"port": port, "protocol": "http"}}]}},
        f"{name}-route": {"meshName": MESH, "virtualGatewayName": name, "gatewayRouteName": "all", "spec": {
            "httpRoute": {"match": {"prefix": "/"},
                          "action": {"target": {"virtualService": {"virtualServiceName": "upstream.bench.local"}}}}}},
    })
    admin = free_port()
    env = {"APPMESH_RESOURCE_ARN": f"mesh/{MESH}/virtualGateway/{name}", "APPMESH_XDS_ENDPOINT": meshd["xds"],
           "MESHD_DNS_RESOLVER": meshd["dns"], "ENVOY_ADMIN_ACCESS_PORT": str(admin),
           "MESHD_IPV6_AVAILABLE": "false", "PATH": os.environ.get("PATH", "")}
    p = procs.start(name, [binary, "--concurrency", str(WORKERS), "--log-level", "warn",
                           *(MESHPROXY_ARGS if args is None else args)],
                    cpus=PROXY_CPUS, env=env)
    if not eventually(lambda: get(admin, "/ready")[0] == 200):
        raise RuntimeError(f"{name} never became LIVE: " + procs.log_tail(name))
    return p


# --- measuring --------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsable latency {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def start_profilers(pid: int, name: str, seconds: int) -> list:
    """PROXY_PROFILE=dir: perf record (call graphs) and perf stat (syscalls) of the proxy's run."""
    if not PROFILE_DIR or not pid or not shutil.which("perf"):
        return []
    d = Path(PROFILE_DIR)
    d.mkdir(parents=True, exist_ok=True)
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return [
        subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", os.environ.get("PROXY_CALLGRAPH", "fp"), "-p", str(pid), "-o", str(d / f"{name}.data"),
                          "--", "sleep", str(seconds)], **quiet),
        subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter,context-switches,syscalls:sys_enter_*", "-p", str(pid),
                          "-o", str(d / f"{name}.stat"), "--", "sleep", str(seconds)], **quiet),
    ]


def syscalls_per_request(name: str, requests: int):
    try:
        for line in (Path(PROFILE_DIR) / f"{name}.stat").read_text().splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[2] == "raw_syscalls:sys_enter" and parts[0].isdigit():
                return int(parts[0]) / requests
    except OSError:
        pass
    return None


def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of a process's threads: each voluntary one is a
    sleep, and waking a sleeper costs the CPU that wakes it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if "ctxt_switches:" in line:
                total += int(line.split()[1])
    return total


def loopback_packets() -> int:
    """Packets sent over loopback (every data segment and bare ACK; the machine's other traffic too)."""
    try:
        return int(Path("/sys/class/net/lo/statistics/tx_packets").read_text())
    except OSError:
        return 0


def wrk(port: int, path: str, seconds: int, pid=None, profile="", upstream_pid=None) -> dict:
    args = ["taskset", "-c", LOAD_CPUS, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
            "--timeout", "5s", f"http://127.0.0.1:{port}{path}"]
    cpu0 = cpu_seconds(pid) if pid else (0.0, 0.0)
    up0 = sum(cpu_seconds(upstream_pid)) if upstream_pid else 0.0
    t0 = time.monotonic()
    profilers = start_profilers(pid, profile, seconds) if profile else []
    cs0 = context_switches(upstream_pid) if upstream_pid else 0
    pcs0 = context_switches(pid) if pid else 0
    pk0 = loopback_packets()
    load0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    load1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - t0
    up_cs = context_switches(upstream_pid) - cs0 if upstream_pid else 0
    packets = loopback_packets() - pk0
    proxy_cs = context_switches(pid) - pcs0 if pid else 0
    # wrk's own cost (it is reaped by then, so it is in the children's totals).
    wrk_cpu = load1.ru_utime + load1.ru_stime - load0.ru_utime - load0.ru_stime
    wrk_cs = load1.ru_nvcsw + load1.ru_nivcsw - load0.ru_nvcsw - load0.ru_nivcsw
    cpu1 = cpu_seconds(pid) if pid else (0.0, 0.0)
    up_cpu = sum(cpu_seconds(upstream_pid)) - up0 if upstream_pid else 0.0
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    cpu = user + system
    for p in profilers:
        p.wait()
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr}")
    text = out.stdout
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", text, re.M))
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    total = int(re.search(r"^\s+(\d+) requests in", text, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    return {"rps": rps, "p50_ms": to_ms(pct["50"]), "p99_ms": to_ms(pct["99"]), "requests": total,
            "errors": errors, "cpu_us_per_req": (cpu * 1e6 / total) if pid and total else None,
            "busy": (cpu / wall) if pid else None,
            "user_share": (user / cpu) if pid and cpu else None,
            # The upstream's CPU per request: the load side's cost, which a proxy can raise or lower.
            "upstream_us_per_req": (up_cpu * 1e6 / total) if upstream_pid and total else None,
            "upstream_cs_per_req": (up_cs / total) if upstream_pid and total else None,
            "wrk_us_per_req": wrk_cpu * 1e6 / total if total else None,
            "wrk_cs_per_req": wrk_cs / total if total else None,
            "packets_per_req": packets / total if total else None,
            "proxy_cs_per_req": proxy_cs / total if pid and total else None,
            "syscalls_per_req": syscalls_per_request(profile, total) if profilers and total else None}


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    procs = Procs(root)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        ports = {t: free_port() for t in ("upstream", *TARGETS)}
        up = ports["upstream"]
        upstream_pid = procs.start("upstream", ["nginx", "-p", str(root), "-e", str(root / "upstream-error.log"),
                                                "-c", str(upstream_config(root, up))], cpus=LOAD_CPUS).pid
        pids = {"direct": None}
        meshd = start_meshd(procs, root, up) if any(t.startswith("meshproxy") for t in TARGETS) else None
        for target in TARGETS:
            if target == "meshproxy":
                pids[target] = start_meshproxy(procs, root, meshd, target, MESHPROXY, ports[target]).pid
            elif target == "meshproxy-base":
                pids[target] = start_meshproxy(procs, root, meshd, target, MESHPROXY_BASE, ports[target],
                                               MESHPROXY_BASE_ARGS).pid
            elif target in ("haproxy", "haproxy-plain"):
                conf = haproxy_config(root, target, ports[target], up, envoy_headers=target == "haproxy")
                pids[target] = procs.start(target, ["haproxy", "-db", "-f", str(conf)], cpus=PROXY_CPUS).pid
            elif target in ("nginx", "nginx-plain"):
                conf = nginx_proxy_config(root, target, ports[target], up, envoy_headers=target == "nginx")
                pids[target] = procs.start(target, ["nginx", "-p", str(root), "-e", str(root / f"{target}-error.log"),
                                                    "-c", str(conf)], cpus=PROXY_CPUS).pid
            elif target != "direct":
                raise SystemExit(f"unknown target {target}")
        port_of = {t: (up if t == "direct" else ports[t]) for t in TARGETS}
        for target in TARGETS:
            for size, body in BODIES.items():
                def serves():
                    status, got = get(port_of[target], "/" + size)
                    return status == 200 and got == body
                if not eventually(serves):
                    raise RuntimeError(f"{target} does not serve /{size}: " + procs.log_tail(target if target != "direct" else "upstream"))
        log(f"tmp {root}; {CONNECTIONS} connections, {WORKERS} proxy worker(s) on CPU {PROXY_CPUS}, "
            f"wrk and upstream on CPU {LOAD_CPUS}; {ROUNDS} round(s) of {WARMUP}+{DURATION} s")

        runs = {(t, s): [] for t in TARGETS for s in BODIES}
        for rnd in range(ROUNDS):
            for size in BODIES:
                # Every other round runs the targets in reverse, so none always follows the same one.
                for target in (TARGETS if rnd % 2 == 0 else TARGETS[::-1]):
                    port, pid = port_of[target], pids[target]
                    wrk(port, "/" + size, WARMUP)
                    r = wrk(port, "/" + size, DURATION, pid, f"{target}-{size}-{rnd + 1}", upstream_pid)
                    runs[(target, size)].append(r)
                    log(f"round {rnd + 1} {size:5} {target:14} {r['rps']:9.0f} req/s p50 {r['p50_ms']:.3f} ms "
                        f"p99 {r['p99_ms']:.3f} ms errors {r['errors']}"
                        + (f" cpu {r['cpu_us_per_req']:.1f} us/req (user {r['user_share']:.0%}) busy {r['busy']:.2f}"
                           if r["busy"] is not None else "")
                        + (f" cs {r['proxy_cs_per_req']:.3f}/req" if r["proxy_cs_per_req"] is not None else "")
                        + (f" syscalls {r['syscalls_per_req']:.2f}/req" if r["syscalls_per_req"] is not None else "")
                        + f" upstream cpu {r['upstream_us_per_req']:.1f} us/req cs {r['upstream_cs_per_req']:.3f}/req"
                        + f" wrk cpu {r['wrk_us_per_req']:.1f} us/req cs {r['wrk_cs_per_req']:.3f}/req"
                        + f" packets {r['packets_per_req']:.2f}/req")
        results = {}
        for key, rs in runs.items():
            med = statistics.median_low([r["rps"] for r in rs])
            results[key] = next(r for r in rs if r["rps"] == med)
        print_table(results)
        print_paired(runs)
        if RESULT_JSON:
            Path(RESULT_JSON).write_text(json.dumps(
                {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "connections": CONNECTIONS,
                 "workers": WORKERS, "duration_s": DURATION, "rounds": ROUNDS,
                 "results": [{"target": t, "size": s, **r} for (t, s), r in results.items()]}, indent=2))
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def print_table(results: dict):
    print(f"\n{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} CPUs; wrk -t1 -c{CONNECTIONS}, "
          f"{DURATION} s after {WARMUP} s warmup, median of {ROUNDS}; proxies: {WORKERS} worker(s) on CPU {PROXY_CPUS}, "
          f"wrk + upstream nginx on CPU {LOAD_CPUS}\n")
    print("| body | target | req/s | p50 ms | p99 ms | proxy CPU µs/req | proxy busy | proxy sleeps/req | load CPU µs/req | req/s vs best peer | p99 vs best peer |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sizes = sorted({s for _, s in results}, key=list(BODIES).index)
    for size in sizes:
        group = next((g for g in PEER_GROUPS if any((t, size) in results for t in g)), ())
        peers = [results[(t, size)] for t in group if (t, size) in results]
        best = max(peers, key=lambda r: r["rps"]) if peers else None
        for (t, s), r in results.items():
            if s != size:
                continue
            ratio = f"{r['rps'] / best['rps']:.2f}×" if best else "-"
            p99 = f"{r['p99_ms'] / best['p99_ms']:.2f}×" if best else "-"
            cpu = f"{r['cpu_us_per_req']:.1f}" if r["cpu_us_per_req"] is not None else "-"
            busy = f"{r['busy']:.2f}" if r["busy"] is not None else "-"
            err = f" ({r['errors']} errors)" if r["errors"] else ""
            sleeps = f"{r['proxy_cs_per_req']:.3f}" if r.get("proxy_cs_per_req") is not None else "-"
            load = f"{r['upstream_us_per_req'] + r['wrk_us_per_req']:.1f}"
            print(f"| {size} | {t}{err} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu} | {busy} | {sleeps} | {load} | {ratio} | {p99} |")
    print("\nload CPU: wrk's and the upstream's together per request, the limit when the proxy is not busy.")


def total_us(r: dict) -> float:
    return r["cpu_us_per_req"] + r["upstream_us_per_req"] + r["wrk_us_per_req"]


def spread(ratios: list) -> str:
    """The ratios' geometric mean with a 95% bootstrap interval over the rounds: whether a few percent
    either way is the proxies or the machine (a ratio's interval that holds 1.0 is a tie)."""
    logs = [math.log(r) for r in ratios]
    if len(logs) < 3:
        return f"mean {math.exp(statistics.fmean(logs)):.3f}×"
    rng = random.Random(7)  # the same data gives the same interval
    means = sorted(statistics.fmean(rng.choices(logs, k=len(logs))) for _ in range(2000))
    return (f"mean {math.exp(statistics.fmean(logs)):.3f}× (95% interval {math.exp(means[49]):.3f}–"
            f"{math.exp(means[1949]):.3f}×, {len(logs)} rounds)")


def print_paired(runs: dict):
    """meshproxy against each peer group, and against meshproxy-base."""
    for size in BODIES:
        for group in PEER_GROUPS:
            print_paired_group(runs, size, group)
    for size in BODIES:
        mine, base = runs.get(("meshproxy", size), []), runs.get(("meshproxy-base", size), [])
        if not mine or not base:
            continue
        rps = [m["rps"] / b["rps"] for m, b in zip(mine, base)]
        cpu = [m["cpu_us_per_req"] / b["cpu_us_per_req"] for m, b in zip(mine, base)]
        print(f"{size}: meshproxy vs meshproxy-base, req/s " + ", ".join(f"{r:.2f}×" for r in rps)
              + f" (median {statistics.median(rps):.2f}×); CPU/req " + ", ".join(f"{r:.2f}×" for r in cpu)
              + f" (median {statistics.median(cpu):.2f}×)")


def print_paired_group(runs: dict, size: str, group: tuple):
    """meshproxy against the better peer of a group, round by round: rounds minutes apart on a shared
    machine differ more than the proxies do, a round's targets run back to back."""
    mine = runs.get(("meshproxy", size), [])
    names = [t for t in group if (t, size) in runs]
    if not mine or not names:
        return
    peers = [runs[(t, size)] for t in names]
    best = [max((p[i] for p in peers), key=lambda r: r["rps"]) for i in range(len(mine))]
    rps = [m["rps"] / b["rps"] for m, b in zip(mine, best)]
    p99 = [m["p99_ms"] / b["p99_ms"] for m, b in zip(mine, best)]
    print(f"{size}: meshproxy vs the round's better of {' and '.join(names)}, req/s " + ", ".join(f"{r:.2f}×" for r in rps)
          + f" (median {statistics.median(rps):.2f}×); p99 " + ", ".join(f"{r:.2f}×" for r in p99)
          + f" (median {statistics.median(p99):.2f}×)")
    # The round's better of two noisy peers is the luckier of them: biased upwards by the noise
    # itself. The better peer over all rounds (higher median req/s), paired round by round, is not.
    peer = max(names, key=lambda t: statistics.median(r["rps"] for r in runs[(t, size)]))
    rps = [m["rps"] / b["rps"] for m, b in zip(mine, runs[(peer, size)])]
    p99 = [m["p99_ms"] / b["p99_ms"] for m, b in zip(mine, runs[(peer, size)])]
    print(f"{size}: meshproxy vs the better peer over all rounds ({peer}), req/s " + ", ".join(f"{r:.2f}×" for r in rps)
          + f" (median {statistics.median(rps):.2f}×); p99 " + ", ".join(f"{r:.2f}×" for r in p99)
          + f" (median {statistics.median(p99):.2f}×)")
    print(f"{size}: meshproxy vs {peer}, req/s {spread(rps)}; p99 {spread(p99)}")
    # CPU time per request moves less with the machine than req/s, and on shared CPUs it is what
    # sets the req/s: the proxy's own, and the whole request's (proxy, wrk and upstream).
    pairs = [(m, b) for m, b in zip(mine, runs[(peer, size)]) if m["cpu_us_per_req"] and b["cpu_us_per_req"]]
    if pairs:
        own = [m["cpu_us_per_req"] / b["cpu_us_per_req"] for m, b in pairs]
        whole = [total_us(m) / total_us(b) for m, b in pairs]
        print(f"{size}: meshproxy vs {peer}, proxy CPU/req {spread(own)}; all CPU/req {spread(whole)}")


if __name__ == "__main__":
    sys.exit(main())
