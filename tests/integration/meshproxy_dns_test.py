"""meshproxy's DNS clusters against the real meshd: the gateway's LOGICAL_DNS / STRICT_DNS clusters
resolve through meshd's DNS server (the bootstrap's c-ares resolver), with Envoy's lookup families.
No sidecars: the gateway reaches the apps directly on loopback."""
import unittest

from proxy_fixtures import admin, apply, colorteller, eventually, free_port, get, meshctl, meshproxy, wait_live, start_meshd

MESH = "pdns"
ZONE = "default.svc.cluster.local.dns"


def node(color: str, port: int, pref=None, response_type=None) -> dict:
    dns = {"hostname": f"colorteller-{color}.{ZONE}"}
    if pref:
        dns["ipPreference"] = pref
    if response_type:
        dns["responseType"] = response_type
    return {"meshName": MESH, "virtualNodeName": f"{color}-vn", "spec": {
        "listeners": [{"portMapping": {"port": port, "protocol": "http"}}],
        "serviceDiscovery": {"dns": dns}}}


class MeshproxyDnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ep = start_meshd(cls, "meshproxy-dns-it-")
        import json
        addrs = json.loads(cls.meshd.ready_file.read_text())
        apply(ep, cls.dir, "mesh", {"meshName": MESH, "spec": {"egressFilter": {"type": "ALLOW_ALL"},
                                                                "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}})
        cls.gw_port = free_port()
        apply(ep, cls.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
            "listeners": [{"portMapping": {"port": cls.gw_port, "protocol": "http"}}]}})
        # green: A only, app IPv4 -> works under IPv4_ONLY.
        # purple: AAAA only -> V4_ONLY finds nothing: no healthy upstream.
        # blue: A and AAAA, IPv6_PREFERRED (AUTO: AAAA first) -> ::1, app IPv6 only -> works.
        # orange: A only but IPv6_ONLY (V6_ONLY) -> no healthy upstream.
        # yellow: STRICT_DNS (responseType ENDPOINTS) with A only -> works.
        cls.apps = {}
        plan = {"green": ("ipv4", None, None, ["--a", "127.0.0.1"]),
                "purple": ("dual", None, None, ["--aaaa", "::1"]),
                "blue": ("ipv6", "IPv6_PREFERRED", None, ["--a", "127.0.0.1", "--aaaa", "::1"]),
                "orange": ("dual", "IPv6_ONLY", None, ["--a", "127.0.0.1"]),
                "yellow": ("ipv4", None, "ENDPOINTS", ["--a", "127.0.0.1"])}
        for color, (family, pref, response_type, records) in plan.items():
            port = free_port()
            meshctl(ep, "dns", "set", f"colorteller-{color}.{ZONE}", *records)
            apply(ep, cls.dir, f"{color}-vn", node(color, port, pref, response_type))
            apply(ep, cls.dir, f"vs-{color}", {"meshName": MESH, "virtualServiceName": f"{color}.svc.local",
                                                "spec": {"provider": {"virtualNode": {"virtualNodeName": f"{color}-vn"}}}})
            apply(ep, cls.dir, f"route-{color}", {
                "meshName": MESH, "virtualGatewayName": "gw", "gatewayRouteName": f"route-{color}", "spec": {
                    "httpRoute": {"match": {"prefix": f"/{color}"},
                                  "action": {"target": {"virtualService": {"virtualServiceName": f"{color}.svc.local"}}}}}})
            app = colorteller(color, port, family)
            cls.addClassCleanup(app.cleanup)
        cls.admin_port = free_port()
        cls.gateway = meshproxy(f"mesh/{MESH}/virtualGateway/gw", addrs["xds"], addrs["dns"], cls.admin_port)
        cls.addClassCleanup(cls.gateway.cleanup)
        wait_live(cls.gateway, cls.admin_port)

    def outcome(self, color: str, status: int, body: str):
        def check():
            r = get("127.0.0.1", self.gw_port, f"/{color}")
            return r if (r[0], r[2]) == (status, body) else None
        got = eventually(check)
        last = get("127.0.0.1", self.gw_port, f"/{color}")
        self.assertIsNotNone(got, f"/{color}: want {status} {body!r}, got {last[0]} {last[2]!r}\n"
                                  f"{admin(self.admin_port, '/clusters')[2]}\n{self.gateway.log_text()}")

    def test_v4_only_reaches_an_ipv4_app(self):
        self.outcome("green", 200, "green")

    def test_v4_only_without_an_a_record_is_no_healthy_upstream(self):
        self.outcome("purple", 503, "no healthy upstream")

    def test_auto_prefers_aaaa(self):
        self.outcome("blue", 200, "blue")
        self.assertIn("::1", admin(self.admin_port, "/clusters")[2])

    def test_v6_only_without_an_aaaa_record_is_no_healthy_upstream(self):
        self.outcome("orange", 503, "no healthy upstream")

    def test_starts_from_a_meshctl_bootstrap_file(self):
        import json, os, subprocess
        from proxy_fixtures import MESHCTL, MESHPROXY, Process
        addrs = json.loads(self.meshd.ready_file.read_text())
        admin_port = free_port()
        env = {"APPMESH_RESOURCE_ARN": f"mesh/{MESH}/virtualGateway/gw", "APPMESH_XDS_ENDPOINT": addrs["xds"],
               "MESHD_DNS_RESOLVER": addrs["dns"], "ENVOY_ADMIN_ACCESS_PORT": str(admin_port)}
        r = subprocess.run([MESHCTL, "bootstrap"], env=env, capture_output=True, text=True, timeout=30, check=True)
        path = self.dir / "bootstrap.json"
        path.write_text(r.stdout)
        # A second gateway on the same listener port: SO_REUSEPORT lets both serve it.
        p = Process([MESHPROXY, "--bootstrap", str(path), "--concurrency", "1"], env={}, name="file")
        self.addCleanup(p.cleanup)
        wait_live(p, admin_port)
        info = json.loads(admin(admin_port, "/server_info")[2])
        self.assertEqual((info["state"], info["node"]["id"]), ("LIVE", f"mesh/{MESH}/virtualGateway/gw"))
        self.assertEqual(info["command_line_options"]["concurrency"], 1)

    def test_strict_dns(self):
        self.outcome("yellow", 200, "yellow")


if __name__ == "__main__":
    unittest.main()
