"""meshproxy against the real meshd: a gateway proxy and a sidecar proxy, both configured over ADS,
with colorteller apps on loopback. Checks the walkthrough's outcomes with Envoy's exact bodies, the
admin endpoints, NACK-and-keep, and serving through a meshd restart."""
import http.client
import json
import socket
import subprocess
import shutil
import tempfile
import unittest
from pathlib import Path

import harness
from proxy_fixtures import (admin, apply, colorteller, eventually, free_port, get, meshctl, meshproxy,
                            wait_live)

MESH = "pm"
NS = "default.svc.cluster.local.cloud"
CONNECT_ERROR = ("upstream connect error or disconnect/reset before headers. reset reason: remote connection "
                 "failure, transport failure reason: delayed connect error: Connection refused")
SIDECAR_INGRESS = 15000


class FixedXdsMeshd(harness.Meshd):
    """meshd on a fixed xDS port, so a restarted meshd is where the proxies look for it."""

    def __init__(self, xds_port: int):
        super().__init__()
        self.xds_port = xds_port

    def command(self) -> list:
        cmd = super().command()
        cmd[cmd.index("--xds-listen") + 1] = f"127.0.0.1:{self.xds_port}"
        return cmd

    def addresses(self) -> dict:
        return json.loads(self.ready_file.read_text())


def node(name: str, service: str, port: int, pref=None) -> dict:
    cm = {"namespaceName": NS, "serviceName": service}
    if pref:
        cm["ipPreference"] = pref
    return {"meshName": MESH, "virtualNodeName": name, "spec": {
        "listeners": [{"portMapping": {"port": port, "protocol": "http"},
                       "healthCheck": {"protocol": "http", "path": "/ping", "healthyThreshold": 2,
                                       "unhealthyThreshold": 2, "intervalMillis": 5000, "timeoutMillis": 2000}}],
        "serviceDiscovery": {"awsCloudMap": cm}}}


def gateway_route(color: str, service: str) -> dict:
    return {"meshName": MESH, "virtualGatewayName": "gw", "gatewayRouteName": f"route-{color}", "spec": {
        "httpRoute": {"match": {"prefix": f"/{color}"},
                      "action": {"target": {"virtualService": {"virtualServiceName": service}}}}}}


class MeshproxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="meshproxy-it-"))
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.xds_port = free_port()
        cls.meshd = FixedXdsMeshd(cls.xds_port).start()
        cls.addClassCleanup(cls.meshd.close)
        ep = cls.meshd.endpoint
        addrs = cls.meshd.addresses()
        cls.xds, cls.dns = addrs["xds"], addrs["dns"]
        cls.app_port = free_port()
        cls.gw_port = free_port()
        meshctl(ep, "namespace", "create", NS)
        for color in ("red", "blue"):
            meshctl(ep, "service", "create", f"colorteller-{color}", "--namespace", NS, "--records", "A")
        # red: its sidecar's ingress on 127.0.0.1; blue: IPv4 only, which an IPv6_ONLY caller cannot use.
        meshctl(ep, "instance", "register", "--namespace", NS, "--service", "colorteller-red", "--id", "red-1",
                "--ipv4", "127.0.0.1", "--port", str(SIDECAR_INGRESS))
        meshctl(ep, "instance", "register", "--namespace", NS, "--service", "colorteller-blue", "--id", "blue-1",
                "--ipv4", "127.0.0.1", "--port", str(free_port()))
        apply(ep, cls.dir, "mesh", {"meshName": MESH, "spec": {"egressFilter": {"type": "ALLOW_ALL"},
                                                                "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}})
        apply(ep, cls.dir, "red-vn", node("red-vn", "colorteller-red", cls.app_port))
        apply(ep, cls.dir, "blue-vn", node("blue-vn", "colorteller-blue", cls.app_port, "IPv6_ONLY"))
        for color, vn in (("red", "red-vn"), ("blue", "blue-vn")):
            apply(ep, cls.dir, f"vs-{color}", {"meshName": MESH, "virtualServiceName": f"{color}.svc.local",
                                                "spec": {"provider": {"virtualNode": {"virtualNodeName": vn}}}})
        apply(ep, cls.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
            "listeners": [{"portMapping": {"port": cls.gw_port, "protocol": "http"}}]}})
        for color in ("red", "blue"):
            apply(ep, cls.dir, f"route-{color}", gateway_route(color, f"{color}.svc.local"))

        cls.app = colorteller("red", cls.app_port, "ipv4")
        cls.addClassCleanup(cls.app.cleanup)
        cls.gw_admin, cls.sc_admin = free_port(), free_port()
        cls.gateway = meshproxy(f"mesh/{MESH}/virtualGateway/gw", cls.xds, cls.dns, cls.gw_admin)
        cls.addClassCleanup(cls.gateway.cleanup)
        cls.sidecar = meshproxy(f"mesh/{MESH}/virtualNode/red-vn", cls.xds, cls.dns, cls.sc_admin)
        cls.addClassCleanup(cls.sidecar.cleanup)
        wait_live(cls.gateway, cls.gw_admin)
        wait_live(cls.sidecar, cls.sc_admin)

    def gw(self, path: str):
        return get("127.0.0.1", self.gw_port, path)

    def await_body(self, path: str, status: int, body: str):
        got = eventually(lambda: (lambda r: r if (r[0], r[2]) == (status, body) else None)(self.gw(path)))
        self.assertIsNotNone(got, f"GET {path} never gave {status} {body!r}; last: {self.gw(path)[::2]}\n"
                                  f"gateway: {self.gateway.log_text()}\nsidecar: {self.sidecar.log_text()}")
        return got

    def test_1_gateway_to_sidecar_to_app(self):
        status, headers, body = self.await_body("/red", 200, "red")
        self.assertIsNone(headers.get("transfer-encoding"))

    def test_2_no_route_is_an_empty_404(self):
        status, headers, body = self.gw("/nowhere")
        self.assertEqual((status, body), (404, ""))
        self.assertIsNone(headers.get("content-type"))

    def test_3_no_address_of_the_allowed_family_is_no_healthy_upstream(self):
        status, headers, body = self.await_body("/blue", 503, "no healthy upstream")
        self.assertEqual(headers.get("content-type"), "text/plain")
        self.assertEqual(headers.get("content-length"), str(len("no healthy upstream")))

    def test_3a_status_and_diagnose_read_the_proxies(self):
        ep = self.meshd.endpoint
        self.await_body("/red", 200, "red")
        out = json.loads(meshctl(ep, "status", "--wait", "20", "-o", "json"))
        self.assertGreaterEqual(out["publishedRevision"], 1)
        by_key = {p["key"]: p for p in out["proxies"]}
        gw = by_key[f"mesh/{MESH}/virtualGateway/gw"]
        self.assertEqual((gw["peer"], gw["adminPort"], gw["inSync"]), ("127.0.0.1", self.gw_admin, True))
        # diagnose reads the gateway's health-check verdicts from its admin endpoint.
        def diagnosed():
            d = json.loads(meshctl(ep, "diagnose", "--mesh", MESH, "gw", "-o", "json"))
            rows = {r["target"]: r for r in d["diagnoses"]}
            return rows if rows["red-vn"]["health"] == "passing" else None
        rows = eventually(diagnosed, timeout=20)
        self.assertTrue(rows, meshctl(ep, "diagnose", "--mesh", MESH, "gw"))
        self.assertEqual(rows["red-vn"]["outcome"], "ok")
        self.assertEqual(rows["blue-vn"]["outcome"], "service discovery")

    def test_4_admin_endpoints(self):
        self.assertEqual(admin(self.gw_admin, "/ready")[::2], (200, "LIVE\n"))
        self.assertEqual(json.loads(admin(self.gw_admin, "/server_info")[2])["state"], "LIVE")
        dump = json.loads(admin(self.gw_admin, "/config_dump")[2])
        listeners = [l["name"] for c in dump["configs"] for l in c.get("dynamic_listeners", [])]
        # The mesh has a preference, so the gateway binds :: dual-stack (ipv4_compat).
        self.assertEqual(listeners, [f"lds_ingress_::_{self.gw_port}"])
        self.assertEqual(admin(self.gw_admin, "/listeners")[2], f"lds_ingress_::_{self.gw_port}::[::]:{self.gw_port}\n")
        self.assertEqual(get("::1", self.gw_port, "/red")[::2], (200, "red"))
        self.gw("/red")
        cluster = f"cds_egress_{MESH}_red-vn_http_{self.app_port}"
        self.assertIn(f"{cluster}::127.0.0.1:{SIDECAR_INGRESS}::health_flags::healthy", admin(self.gw_admin, "/clusters")[2])
        stats = admin(self.gw_admin, "/stats")[2]
        self.assertRegex(stats, rf"cluster\.{cluster}\.upstream_rq_total: [1-9]")
        prom = admin(self.gw_admin, "/stats/prometheus")[2]
        self.assertIn(f'envoy_cluster_upstream_rq_total{{envoy_cluster_name="{cluster}"}}', prom)

    def test_5_app_on_the_wrong_family_is_the_sidecars_connect_error(self):
        ep = self.meshd.endpoint
        apply(ep, self.dir, "red-vn", node("red-vn", "colorteller-red", self.app_port, "IPv6_PREFERRED"))
        try:
            status, headers, body = self.await_body("/red", 503, CONNECT_ERROR)
            self.assertEqual(headers.get("content-type"), "text/plain")
            # The sidecar now binds [::]:15000 dual-stack: the gateway still reaches it over IPv4.
            self.assertIn(f"lds_ingress_::_{SIDECAR_INGRESS}::[::]:{SIDECAR_INGRESS}", admin(self.sc_admin, "/listeners")[2])
            self.assertRegex(admin(self.sc_admin, "/stats")[2], r"upstream_cx_connect_fail: [1-9]")
            # The gateway's health check (/ping every 5 s) now fails the sidecar: its 503 is an answer
            # that fails, which takes the host out at once, as Envoy (unhealthyThreshold counts only
            # network failures). It is the cluster's only host: below the panic threshold, so it still
            # gets the request, and the client still sees the sidecar's error, not "no healthy upstream".
            cluster = f"cds_egress_{MESH}_red-vn_http_{self.app_port}"
            flagged = eventually(lambda: f"{cluster}::127.0.0.1:{SIDECAR_INGRESS}::health_flags::/failed_active_hc\n"
                                 in admin(self.gw_admin, "/clusters")[2], timeout=30)
            self.assertTrue(flagged, admin(self.gw_admin, "/clusters")[2])
            self.assertEqual(self.gw("/red")[::2], (503, CONNECT_ERROR))
            self.assertRegex(admin(self.gw_admin, "/stats")[2], rf"cluster\.{cluster}\.health_check\.failure: [1-9]")
        finally:
            apply(ep, self.dir, "red-vn", node("red-vn", "colorteller-red", self.app_port))
        self.await_body("/red", 200, "red")

    def test_6_an_unbindable_listener_is_nacked_and_the_old_one_keeps_serving(self):
        ep = self.meshd.endpoint
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        busy = taken.getsockname()[1]
        apply(ep, self.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
            "listeners": [{"portMapping": {"port": busy, "protocol": "http"}}]}})
        try:
            status = eventually(lambda: "cannot bind" in meshctl(ep, "status") and meshctl(ep, "status"))
            self.assertTrue(status, meshctl(ep, "status"))
            self.assertEqual(self.gw("/red")[::2], (200, "red"))
            self.assertIn(f"lds_ingress_::_{self.gw_port}", admin(self.gw_admin, "/listeners")[2])
        finally:
            apply(ep, self.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
                "listeners": [{"portMapping": {"port": self.gw_port, "protocol": "http"}}]}})

    def test_7_serves_while_meshd_is_down_and_resyncs_after(self):
        self.await_body("/red", 200, "red")
        self.meshd.stop()
        self.assertEqual(self.gw("/red")[::2], (200, "red"))
        self.meshd.start()
        apply(self.meshd.endpoint, self.dir, "route-again", gateway_route("again", "red.svc.local"))
        self.await_body("/again", 200, "red")

    def test_7a_memory_and_logging(self):
        # /memory reads tcmalloc's figures (meshproxy links it, as Envoy): its thread caches hold
        # something once workers have served.
        self.await_body("/red", 200, "red")
        memory = json.loads(admin(self.gw_admin, "/memory")[2])
        self.assertEqual(list(memory), ["allocated", "heap_size", "pageheap_unmapped", "pageheap_free",
                                        "total_thread_cache", "total_physical_bytes"])
        self.assertGreater(int(memory["allocated"]), 0)
        self.assertGreaterEqual(int(memory["heap_size"]), int(memory["allocated"]))
        self.assertGreater(int(memory["total_thread_cache"]), 0)
        # The App Mesh agent's /enableLogging posts ?level=<level> to /logging and reads the levels back.
        conn = http.client.HTTPConnection("127.0.0.1", self.gw_admin, timeout=5)
        conn.request("POST", "/logging?level=debug")
        reply = conn.getresponse()
        body = reply.read().decode()
        conn.close()
        self.assertEqual(reply.status, 200, body)
        levels = [l.split(":")[1].strip() for l in body.splitlines()[1:] if l.strip()]
        self.assertTrue(body.startswith("active loggers:\n") and levels and set(levels) == {"debug"}, body)
        self.assertTrue(eventually(lambda: 'msg="change all log levels" level=debug' in self.gateway.log_text()),
                        self.gateway.log_text())
        conn = http.client.HTTPConnection("127.0.0.1", self.gw_admin, timeout=5)
        conn.request("POST", "/logging?level=info")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_7b_runtime(self):
        # meshd's bootstrap carries the App Mesh agent's runtime layers; /runtime shows them and
        # POST /runtime_modify writes the admin layer, as Envoy's.
        runtime = json.loads(admin(self.gw_admin, "/runtime")[2])
        self.assertEqual(runtime["layers"], ["static_layer_0", "admin_layer"])
        self.assertEqual(runtime["entries"]["re2.max_program_size.error_level"],
                         {"final_value": "1000", "layer_values": ["1000", ""]})
        conn = http.client.HTTPConnection("127.0.0.1", self.gw_admin, timeout=5)
        conn.request("POST", "/runtime_modify?meshd.test=yes")
        reply = conn.getresponse()
        self.assertEqual((reply.status, reply.read()), (200, b"OK\n"))
        conn.close()
        runtime = json.loads(admin(self.gw_admin, "/runtime")[2])
        self.assertEqual(runtime["entries"]["meshd.test"], {"final_value": "yes", "layer_values": ["", "yes"]})
        conn = http.client.HTTPConnection("127.0.0.1", self.gw_admin, timeout=5)
        conn.request("POST", "/runtime_modify?meshd.test=")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_8_quitquitquit_ends_the_process(self):
        # As Envoy's admin: POST /quitquitquit answers OK and the process exits cleanly.
        conn = http.client.HTTPConnection("127.0.0.1", self.gw_admin, timeout=5)
        conn.request("POST", "/quitquitquit")
        reply = conn.getresponse()
        self.assertEqual((reply.status, reply.read()), (200, b"OK\n"))
        conn.close()
        try:
            code = self.gateway.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("meshproxy still runs 10 s after /quitquitquit:\n" + self.gateway.log_text())
        self.assertEqual(code, 0, self.gateway.log_text())


if __name__ == "__main__":
    unittest.main()
