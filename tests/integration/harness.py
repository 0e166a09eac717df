"""Runs meshd on loopback for integration tests and talks to it through the real AWS CLI and raw HTTP.

A `Meshd` owns one meshd process and a private temporary directory (data dir, ready file, log).
Processes and directories are always cleaned up: by `close()` (also a context manager), by the
`MeshdTestCase` class cleanups, at interpreter exit, and — if this process is killed outright, e.g. by
a ctest timeout — by the kernel, since meshd is started with a parent-death signal where possible.

Only loopback addresses are ever used: meshd is told to bind 127.0.0.1 and the address it reports is
checked to be loopback before anything connects to it.
"""

import atexit
import http.client
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path
from typing import Any, NamedTuple, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
MESHD_BIN = os.environ.get("MESHD_BIN", str(REPO_ROOT / "build" / "meshd"))
# The Debian package's CLI (awscli 2.9.19), not whatever `aws` is first on PATH.
AWS_BIN = "/usr/bin/aws"
EXAMPLES_DIR = REPO_ROOT / "examples" / "walkthrough"

REGION = "us-west-2"
ACCOUNT_ID = "123456789012"
API_PREFIX = "/v20190125"

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
AWS_TIMEOUT_S = 60.0   # one CLI run; generous because the machine may be busy compiling
HTTP_TIMEOUT_S = 10.0

# The CLI's exit codes (https://docs.aws.amazon.com/cli/latest/userguide/cli-chap-returncodes.html).
CLI_OK = 0
CLI_PARAM_VALIDATION = 252  # rejected client-side by botocore before anything was sent
CLI_SERVICE_ERROR = 254     # the service answered with an error


class AwsResult(NamedTuple):
    rc: int
    out: Any          # stdout parsed as JSON, or None when stdout is empty or not JSON
    err: str          # stderr


class HttpResult(NamedTuple):
    status: int
    headers: Any      # http.client.HTTPMessage: case-insensitive .get()
    body: Any         # parsed JSON; the raw text when not JSON; None when empty


class MeshdError(RuntimeError):
    """meshd did not start or stop as its contract says."""


_live_processes: "set[Meshd]" = set()


@atexit.register
def _kill_leftovers():
    for meshd in list(_live_processes):
        meshd.close()


def _parent_death_prefix() -> list:
    # setpriv execs meshd in place (same pid), so signals and kill -9 still reach meshd itself.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _parse_loopback_address(address: str) -> "tuple[str, int]":
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not ipaddress.ip_address(host).is_loopback:
        raise MeshdError(f"meshd reported a non-loopback API address {address!r}")
    return host, int(port)


class Meshd:
    """One meshd process on loopback with its own temporary data directory.

    Not thread-safe for start/stop; `http()` and `aws()` may be called from several threads.
    """

    def __init__(self, quotas: Optional[dict] = None, extra_args=()):
        self.quotas = dict(quotas or {})
        self.extra_args = list(extra_args)
        self.root = Path(tempfile.mkdtemp(prefix="meshd-it-"))
        self.data_dir = self.root / "data"
        self.ready_file = self.root / "ready.json"
        self.log_file = self.root / "meshd.log"
        self.proc: Optional[subprocess.Popen] = None
        self.host, self.port = None, None
        self._log = None
        _live_processes.add(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def command(self) -> list:
        cmd = [MESHD_BIN, "--api-listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0", "--xds-listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
               "--region", REGION, "--account-id", ACCOUNT_ID, "--ready-file", str(self.ready_file),
               "--log-level", os.environ.get("MESHD_LOG_LEVEL", "warn")]
        for name, value in self.quotas.items():
            cmd += ["--quota", f"{name}={value}"]
        return cmd + self.extra_args

    def start(self) -> "Meshd":
        if not os.access(MESHD_BIN, os.X_OK):
            raise MeshdError(f"no meshd binary at {MESHD_BIN}: build it or set MESHD_BIN")
        if self.running():
            raise MeshdError("meshd is already running")
        self.data_dir.mkdir(exist_ok=True)
        # A stale ready file from the previous run would name the previous port.
        self.ready_file.unlink(missing_ok=True)
        self._log = open(self.log_file, "ab")
        self._log.write(f"=== start: {' '.join(self.command())}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(_parent_death_prefix() + self.command(),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.host, self.port = _parse_loopback_address(self._await_ready())
        return self

    def _await_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MeshdError(f"meshd exited with {self.proc.returncode} before it was ready\n"
                                 + self.log_tail())
            try:
                return json.loads(self.ready_file.read_text())["api"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                time.sleep(0.02)
        self.kill9()
        raise MeshdError(f"no ready file within {READY_TIMEOUT_S}s\n" + self.log_tail())

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code (0 is the contract). Kills it if it hangs."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._finish_process()
                raise MeshdError(f"meshd ignored SIGTERM for {STOP_TIMEOUT_S}s\n" + self.log_tail())
        return self._finish_process()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._finish_process()

    def _finish_process(self) -> int:
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def restart(self) -> int:
        """SIGTERM, then start again on the same data dir; returns the stop's exit code."""
        rc = self.stop()
        self.start()
        return rc

    def close(self) -> None:
        """Ends the process (SIGTERM, then SIGKILL) and removes the temporary directory."""
        try:
            self.stop()
        except MeshdError:
            pass
        finally:
            self.kill9()
            shutil.rmtree(self.root, ignore_errors=True)
            _live_processes.discard(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_file.read_bytes()[-max_bytes:]
        except FileNotFoundError:
            return "(no meshd log)"
        return "--- meshd log (tail) ---\n" + data.decode(errors="replace")

    # -- clients ---------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def aws(self, *args: str, timeout: float = AWS_TIMEOUT_S, endpoint: Optional[str] = None) -> AwsResult:
        """Runs `/usr/bin/aws ARGS --endpoint-url <meshd> --output json`. `endpoint` replaces the
        endpoint URL, e.g. with a host name the CLI can prefix (it must name this meshd on loopback)."""
        cmd = [AWS_BIN, *args, "--endpoint-url", endpoint or self.endpoint, "--output", "json"]
        proc = subprocess.run(cmd, env=_aws_env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return AwsResult(proc.returncode, _json_or_none(proc.stdout), proc.stderr)

    def appmesh(self, *args: str, **kwargs) -> AwsResult:
        return self.aws("appmesh", *args, **kwargs)

    def http(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
             timeout: float = HTTP_TIMEOUT_S) -> HttpResult:
        """One raw request. `body` may be a dict/list (sent as JSON), str or bytes (sent as is)."""
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return HttpResult(resp.status, resp.headers, _json_or_text(data))
        finally:
            conn.close()


def _aws_env() -> dict:
    # Nothing from the caller's AWS setup or proxies may leak in: the CLI must talk to meshd only.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost,::1",
    })
    return env


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


def _json_or_text(data: bytes) -> Any:
    if not data:
        return None
    text = data.decode(errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# -- App Mesh REST paths -------------------------------------------------------------------------

# kind → (collection segment, parent segment or None). Routes and gateway routes live under a
# singular parent segment ("virtualRouter/<vr>/routes"), the other kinds directly under the mesh.
_KIND_PATHS = {
    "virtualNode": ("virtualNodes", None),
    "virtualService": ("virtualServices", None),
    "virtualRouter": ("virtualRouters", None),
    "virtualGateway": ("virtualGateways", None),
    "route": ("routes", "virtualRouter"),
    "gatewayRoute": ("gatewayRoutes", "virtualGateway"),
}


def q(value: str) -> str:
    """Percent-encodes one path segment or query value."""
    return urllib.parse.quote(value, safe="")


def api_path(mesh: Optional[str] = None, kind: Optional[str] = None, name: Optional[str] = None,
             parent: Optional[str] = None, **query) -> str:
    """The REST path of a mesh, a collection or one resource, e.g.
    api_path("m", "route", "r", parent="vr") → /v20190125/meshes/m/virtualRouter/vr/routes/r."""
    path = f"{API_PREFIX}/meshes"
    if mesh is not None:
        path += f"/{q(mesh)}"
    if kind is not None:
        collection, parent_segment = _KIND_PATHS[kind]
        if parent_segment:
            path += f"/{parent_segment}/{q(parent)}"
        path += f"/{collection}"
        if name is not None:
            path += f"/{q(name)}"
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return path


def tags_path(operation: str, arn: str, **query) -> str:
    """operation: "tags" (list), "tag" or "untag"."""
    return f"{API_PREFIX}/{operation}?" + urllib.parse.urlencode({"resourceArn": arn, **query})


def arn(*segments: str) -> str:
    """arn("mesh", "m", "virtualNode", "vn") → arn:aws:appmesh:us-west-2:123456789012:mesh/m/virtualNode/vn"""
    return f"arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:" + "/".join(segments)


def load_example(setup: str, name: str) -> dict:
    """An example input file, e.g. load_example("dns", "red-vn")."""
    return json.loads((EXAMPLES_DIR / setup / "mesh" / f"{name}.json").read_text())


def example_file(setup: str, name: str) -> Path:
    return EXAMPLES_DIR / setup / "mesh" / f"{name}.json"


# -- assertions ----------------------------------------------------------------------------------

def cli_error_type(stderr: str) -> Optional[str]:
    """"An error occurred (NotFoundException) when calling ..." → "NotFoundException"."""
    marker = "An error occurred ("
    start = stderr.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return stderr[start:stderr.find(")", start)]


class MeshdTestCase(unittest.TestCase):
    """A TestCase with one meshd per class (started in setUpClass) and App Mesh assertions."""

    quotas: dict = {}
    meshd: Meshd
    maxDiff = None  # API objects are long; a truncated diff hides the field that differs

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meshd = Meshd(quotas=cls.quotas)
        cls.addClassCleanup(cls.meshd.close)
        cls.meshd.start()

    # Convenience wrappers so tests read as CLI commands.
    def appmesh(self, *args: str) -> AwsResult:
        return self.meshd.appmesh(*args)

    def http(self, *args, **kwargs) -> HttpResult:
        return self.meshd.http(*args, **kwargs)

    def appmesh_ok(self, *args: str) -> Any:
        """Runs an appmesh command that must succeed; returns its JSON output."""
        result = self.appmesh(*args)
        self.assertEqual(result.rc, CLI_OK, self._describe_cli_failure(args, result))
        return result.out

    def assertCliError(self, result: AwsResult, error_type: str, operation: Optional[str] = None):
        self.assertEqual(result.rc, CLI_SERVICE_ERROR,
                         f"expected {error_type}, got rc={result.rc} out={result.out} err={result.err}")
        self.assertEqual(cli_error_type(result.err), error_type, result.err)
        if operation:
            self.assertIn(f"when calling the {operation} operation", result.err)

    def assertCliParamValidation(self, result: AwsResult, field: str):
        self.assertEqual(result.rc, CLI_PARAM_VALIDATION, result.err)
        self.assertIn(field, result.err)

    def assertHttpOk(self, result: HttpResult) -> Any:
        self.assertEqual(result.status, 200, f"body: {result.body}")
        return result.body

    def assertHttpError(self, result: HttpResult, status: int, error_type: str,
                        mentions: Optional[str] = None):
        """Status, x-amzn-ErrorType (which may carry ':<details>') and a JSON {"message": ...}."""
        context = f"status={result.status} headers={dict(result.headers)} body={result.body}"
        self.assertEqual(result.status, status, context)
        header = result.headers.get("x-amzn-ErrorType") or ""
        self.assertEqual(header.split(":")[0], error_type, context)
        self.assertIsInstance(result.body, dict, context)
        self.assertIsInstance(result.body.get("message"), str, context)
        if mentions:
            self.assertIn(mentions, result.body["message"], context)

    def _describe_cli_failure(self, args, result: AwsResult) -> str:
        return f"aws appmesh {' '.join(args)} → rc={result.rc}\n{result.err}\n{self.meshd.log_tail()}"
