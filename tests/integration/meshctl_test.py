"""meshctl against the real meshd: apply the walkthrough's files (create, then update), get/list as
tables and JSON, delete by name and by file, the registry and DNS commands, and one-line errors."""
import json
import os
import subprocess
import unittest
from pathlib import Path

from harness import Meshd

ROOT = Path(__file__).resolve().parents[2]
MESHCTL = os.environ.get("MESHCTL_BIN", str(ROOT / "build" / "meshctl"))
DNS_SETUP = ROOT / "examples" / "walkthrough" / "dns" / "mesh"
MESH = "appmesh-ipv6-dns"


class MeshctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.meshd = Meshd().start()
        cls.addClassCleanup(cls.meshd.close)

    def ctl(self, *args, ok=True):
        r = subprocess.run([MESHCTL, "--endpoint", self.meshd.endpoint, *args], capture_output=True, text=True,
                           timeout=30)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_apply_get_delete_walkthrough(self):
        out = self.ctl("apply", "-f", str(DNS_SETUP)).stdout.splitlines()
        self.assertIn(f"mesh/{MESH} created", out)
        self.assertIn("virtualNode/colorteller-red-vn created", out)
        self.assertIn("gatewayRoute/colorgateway-route-red created", out)
        self.assertIn("virtualNode/colorteller-red-vn unchanged", self.ctl("apply", "-f", str(DNS_SETUP)).stdout)

        table = self.ctl("get", "vn", "--mesh", MESH).stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "MESH", "VERSION", "STATUS", "UPDATED"])
        self.assertEqual(len(table), 7)
        node = json.loads(self.ctl("get", "vn", "colorteller-red-vn", "--mesh", MESH, "-o", "json").stdout)
        self.assertEqual(node["spec"]["serviceDiscovery"]["dns"]["hostname"],
                         "colorteller-red.default.svc.cluster.local.dns")
        routes = self.ctl("list", "gr", "--mesh", MESH, "--gateway", "colorgateway-vg").stdout.splitlines()
        self.assertEqual(routes[0].split()[:3], ["NAME", "MESH", "GATEWAY"])
        self.assertEqual(len(routes), 7)

        # An edited file is an update: version 2.
        red = json.loads((DNS_SETUP / "red-vn.json").read_text())
        red["spec"]["serviceDiscovery"]["dns"]["ipPreference"] = "IPv4_PREFERRED"
        edited = Path(self.meshd.root) / "red-vn.json"
        edited.write_text(json.dumps(red))
        self.assertEqual(self.ctl("apply", "-f", str(edited)).stdout.strip(), "virtualNode/colorteller-red-vn configured")
        node = json.loads(self.ctl("get", "vn", "colorteller-red-vn", "--mesh", MESH, "-o", "json").stdout)
        self.assertEqual(node["metadata"]["version"], 2)

        r = self.ctl("delete", "mesh", MESH, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertTrue(r.stderr.startswith("meshctl: ResourceInUseException: "), r.stderr)
        self.ctl("delete", "-f", str(DNS_SETUP))
        self.assertEqual(len(self.ctl("get", "mesh").stdout.splitlines()), 1)  # the header only

    def test_errors_are_one_line_and_exit_non_zero(self):
        for args, start in ((["get", "vn", "nope", "--mesh", "nope"], "meshctl: NotFoundException: "),
                            (["get", "vn"], "meshctl: --mesh is required"),
                            (["get", "pods"], "meshctl: unknown kind 'pods'"),
                            (["apply", "-f", "/nonexistent.json"], "meshctl: cannot read /nonexistent.json")):
            with self.subTest(args=args):
                r = self.ctl(*args, ok=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertTrue(r.stderr.startswith(start), r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_registry_and_dns_commands(self):
        ns = "default.svc.cluster.local.cloud"
        self.ctl("namespace", "create", ns)
        self.ctl("service", "create", "colorteller-green", "--namespace", ns, "--records", "A,AAAA")
        self.ctl("instance", "register", "--namespace", ns, "--service", "colorteller-green", "--id", "t1",
                 "--ipv4", "198.18.0.5", "--ipv6", "fd00::5")
        found = json.loads(self.ctl("instance", "discover", "--namespace", ns, "--service", "colorteller-green",
                                    "-o", "json").stdout)
        self.assertEqual(found["Instances"][0]["Attributes"]["AWS_INSTANCE_IPV6"], "fd00::5")
        r = self.ctl("instance", "register", "--namespace", ns, "--service", "colorteller-green", "--id", "t2",
                     "--ipv4", "198.18.0.6", ok=False)
        self.assertTrue(r.stderr.startswith("meshctl: InvalidInput: "), r.stderr)
        self.ctl("dns", "set", "colorteller-red.default.svc.cluster.local.dns", "--a", "198.18.0.2")
        table = self.ctl("dns", "get").stdout
        self.assertIn("colorteller-red.default.svc.cluster.local.dns", table)
        self.ctl("dns", "delete", "colorteller-red.default.svc.cluster.local.dns")
        self.ctl("instance", "deregister", "--namespace", ns, "--service", "colorteller-green", "--id", "t1")
        self.ctl("service", "delete", "colorteller-green", "--namespace", ns)
        self.ctl("namespace", "delete", ns)

    def test_bootstrap_from_environment(self):
        env = {"APPMESH_RESOURCE_ARN": "mesh/m/virtualNode/red", "APPMESH_XDS_ENDPOINT": "127.0.0.1:18000"}
        r = subprocess.run([MESHCTL, "bootstrap"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["node"]["id"], "mesh/m/virtualNode/red")
        r = subprocess.run([MESHCTL, "bootstrap"], env={}, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
