"""meshproxy and colorteller as real processes on loopback, for the meshproxy integration tests.

Every process is started with a parent-death signal and stopped by the test's cleanups; ports are
picked free by the kernel, except the sidecar's ingress and egress ports (15000 and 15001), which
meshd's translation fixes as App Mesh did.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parents[2]
MESHPROXY = os.environ.get("MESHPROXY_BIN", str(ROOT / "build" / "meshproxy"))
MESHCTL = os.environ.get("MESHCTL_BIN", str(ROOT / "build" / "meshctl"))
COLORTELLER = os.environ.get("COLORTELLER_BIN", str(ROOT / "build" / "colorteller"))
WAIT_S = 20.0


def free_port() -> int:
    """A port free on both families (a dual-stack socket asks the kernel)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


def _pdeath() -> list:
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def get(host: str, port: int, path: str, headers=None, timeout: float = 10):
    """(status, headers, body text) of one GET."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.headers, r.read().decode()
    finally:
        conn.close()


def eventually(fn, timeout: float = WAIT_S, interval: float = 0.1):
    """Calls fn until it returns a truthy value (returned) or the time is up (the last value)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except OSError as e:
            value = None
        if value:
            return value
        time.sleep(interval)
    return value


class Process:
    """A child process with its log in a temporary file; stop() is idempotent."""

    def __init__(self, args, env=None, name="proc"):
        self.dir = Path(tempfile.mkdtemp(prefix=f"meshproxy-it-{name}-"))
        self.log_path = self.dir / "log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(_pdeath() + list(args), env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def colorteller(color: str, port: int, family: str) -> Process:
    p = Process([COLORTELLER, "--listen", family], env={"COLOR": color, "PORT": str(port)}, name=color)
    host, fam = ("127.0.0.1", socket.AF_INET) if family == "ipv4" else ("::1", socket.AF_INET6)

    def up():
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            return s.connect_ex((host, port)) == 0
    if not eventually(up):
        p.cleanup()
        raise RuntimeError("colorteller did not start: " + p.log_text())
    return p


def meshproxy(resource: str, xds: str, dns: str, admin_port: int, concurrency: int = 2, delta: bool = False) -> Process:
    """meshproxy from the App Mesh image's variables; `delta`: incremental xDS (MESHD_XDS_DELTA)."""
    env = {"APPMESH_RESOURCE_ARN": resource, "APPMESH_XDS_ENDPOINT": xds, "MESHD_DNS_RESOLVER": dns,
           "ENVOY_ADMIN_ACCESS_PORT": str(admin_port), "PATH": os.environ.get("PATH", ""),
           "MESHD_XDS_DELTA": "true" if delta else "false"}
    return Process([MESHPROXY, "--concurrency", str(concurrency), "--log-level", "info"], env=env,
                   name=resource.rsplit("/", 1)[-1])


def admin(port: int, path: str):
    return get("127.0.0.1", port, path, timeout=5)


def wait_live(p: Process, admin_port: int):
    def live():
        if not p.running():
            raise RuntimeError("meshproxy exited: " + p.log_text())
        return admin(admin_port, "/ready")[0] == 200
    if not eventually(live):
        raise RuntimeError("meshproxy never became LIVE: " + p.log_text())


def meshctl(endpoint: str, *args) -> str:
    r = subprocess.run([MESHCTL, "--endpoint", endpoint, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"meshctl {' '.join(args)}: {r.stderr}")
    return r.stdout


def apply(endpoint: str, directory: Path, name: str, resource: dict):
    path = directory / f"{name}.json"
    path.write_text(json.dumps(resource))
    meshctl(endpoint, "apply", "-f", str(path))


def start_meshd(cls, prefix: str) -> str:
    """For a test class: a meshd of its own and a scratch directory (cls.meshd, cls.dir), both removed
    by the class cleanups. Returns the API endpoint."""
    cls.dir = Path(tempfile.mkdtemp(prefix=prefix))
    cls.addClassCleanup(shutil.rmtree, cls.dir, True)
    cls.meshd = harness.Meshd().start()
    cls.addClassCleanup(cls.meshd.close)
    return cls.meshd.endpoint
