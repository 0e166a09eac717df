"""A virtual gateway in front of a virtual router, end to end: the gateway sends the request to its
own egress listener (App Mesh's self-redirect), where every route of the router applies."""
import json
import unittest

from proxy_fixtures import apply, colorteller, eventually, free_port, get, meshctl, meshproxy, wait_live, start_meshd

MESH = "rm"
NS = "router.local.cloud"


def node(color: str, port: int) -> dict:
    return {"meshName": MESH, "virtualNodeName": f"{color}-vn", "spec": {
        "listeners": [{"portMapping": {"port": port, "protocol": "http"}}],
        "serviceDiscovery": {"awsCloudMap": {"namespaceName": NS, "serviceName": color}}}}


def route(name: str, priority: int, prefix: str, color: str) -> dict:
    return {"meshName": MESH, "virtualRouterName": "vr", "routeName": name, "spec": {"priority": priority,
            "httpRoute": {"match": {"prefix": prefix},
                          "action": {"weightedTargets": [{"virtualNode": f"{color}-vn", "weight": 1}]}}}}


class MeshproxyRouterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ep = start_meshd(cls, "meshproxy-router-it-")
        cls.gw_port, cls.gw_admin = free_port(), free_port()
        meshctl(ep, "namespace", "create", NS)
        apply(ep, cls.dir, "mesh", {"meshName": MESH, "spec": {}})
        cls.apps = {}
        for color in ("red", "blue"):
            port = free_port()
            cls.apps[color] = colorteller(color, port, "ipv4")
            cls.addClassCleanup(cls.apps[color].cleanup)
            meshctl(ep, "service", "create", color, "--namespace", NS, "--records", "A")
            # No sidecars here: the targets' instances are the apps themselves.
            meshctl(ep, "instance", "register", "--namespace", NS, "--service", color, "--id", f"{color}-1",
                    "--ipv4", "127.0.0.1", "--port", str(port))
            apply(ep, cls.dir, f"{color}-vn", node(color, port))
        apply(ep, cls.dir, "vr", {"meshName": MESH, "virtualRouterName": "vr", "spec": {
            "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}})
        apply(ep, cls.dir, "canary", route("canary", 1, "/canary", "blue"))
        apply(ep, cls.dir, "rest", route("rest", 2, "/", "red"))
        apply(ep, cls.dir, "vs", {"meshName": MESH, "virtualServiceName": "colors.local",
                                  "spec": {"provider": {"virtualRouter": {"virtualRouterName": "vr"}}}})
        apply(ep, cls.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
            "listeners": [{"portMapping": {"port": cls.gw_port, "protocol": "http"}}]}})
        apply(ep, cls.dir, "gr", {"meshName": MESH, "virtualGatewayName": "gw", "gatewayRouteName": "colors", "spec": {
            "httpRoute": {"match": {"prefix": "/colors"},
                          "action": {"target": {"virtualService": {"virtualServiceName": "colors.local"}}}}}})
        addrs = json.loads(cls.meshd.ready_file.read_text())
        # Incremental xDS here (the other proxy tests use state of the world).
        cls.gateway = meshproxy(f"mesh/{MESH}/virtualGateway/gw", addrs["xds"], addrs["dns"], cls.gw_admin, delta=True)
        cls.addClassCleanup(cls.gateway.cleanup)
        wait_live(cls.gateway, cls.gw_admin)

    def test_1_every_route_of_the_router_applies(self):
        red = eventually(lambda: get("127.0.0.1", self.gw_port, "/colors/x")[2] == "red", timeout=20)
        self.assertTrue(red, get("127.0.0.1", self.gw_port, "/colors/x"))
        # /colors/canary is /canary once the gateway strips its prefix: the router's first route.
        self.assertEqual(get("127.0.0.1", self.gw_port, "/colors/canary")[::2], (200, "blue"))
        self.assertEqual(get("127.0.0.1", self.gw_port, "/colors")[::2], (200, "red"))

    def test_2_delta_stream_follows_changes_and_removals(self):
        ep = self.meshd.endpoint
        status = json.loads(meshctl(ep, "status", "--wait", "20", "-o", "json"))
        self.assertEqual([p["delta"] for p in status["proxies"]], [True])
        self.assertTrue(eventually(lambda: get("127.0.0.1", self.gw_port, "/colors/canary")[2] == "blue", timeout=20))
        apply(ep, self.dir, "canary", route("canary", 1, "/canary", "red"))  # a changed route configuration
        self.assertTrue(eventually(lambda: get("127.0.0.1", self.gw_port, "/colors/canary")[2] == "red", timeout=20))
        meshctl(ep, "delete", "-f", str(self.dir / "canary.json"))  # and a removed route
        apply(ep, self.dir, "rest", route("rest", 2, "/", "blue"))
        self.assertTrue(eventually(lambda: get("127.0.0.1", self.gw_port, "/colors/canary")[2] == "blue", timeout=20))
        meshctl(ep, "status", "--wait", "20")


if __name__ == "__main__":
    unittest.main()
