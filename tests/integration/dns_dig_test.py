"""meshd's DNS server, asked with dig (Debian's dnsutils) as a real resolver client would.

Registrations go in through the Cloud Map API and meshd's static-records API; answers must follow
them: A-only vs A+AAAA vs AAAA-only names, NXDOMAIN vs NODATA (the IP-preference behaviour depends
on the difference), SRV with additional addresses, TTLs, health changes, TCP and UDP truncation.
"""
import json
import shutil
import subprocess
import time
import unittest

from harness import Meshd

TARGET = "Route53AutoNaming_v20170314"
JSON_11 = "application/x-amz-json-1.1"
DIG = shutil.which("dig")
ZONE = "default.svc.cluster.local.cloud"


def cloudmap(meshd, operation, body):
    r = meshd.http("POST", "/", body, headers={"X-Amz-Target": f"{TARGET}.{operation}", "Content-Type": JSON_11})
    if r.status != 200:
        raise AssertionError(f"{operation} failed: {r.status} {r.body}")
    return r.body


@unittest.skipUnless(DIG, "dig (package dnsutils) is not installed")
class DnsDigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.meshd = Meshd().start()
        cls.addClassCleanup(cls.meshd.close)
        ready = json.loads(cls.meshd.ready_file.read_text())
        cls.dns_port = int(ready["dns"].rsplit(":", 1)[1])
        m = cls.meshd
        op = cloudmap(m, "CreatePrivateDnsNamespace", {"Name": ZONE, "Vpc": "vpc-local",
                                                      "Properties": {"DnsProperties": {"SOA": {"TTL": 15}}}})
        ns_id = cloudmap(m, "GetOperation", {"OperationId": op["OperationId"]})["Operation"]["Targets"]["NAMESPACE"]

        def service(name, records, custom_health=False):
            body = {"Name": name, "NamespaceId": ns_id,
                    "DnsConfig": {"DnsRecords": [{"Type": t, "TTL": ttl} for t, ttl in records]}}
            if custom_health:
                body["HealthCheckCustomConfig"] = {}
            return cloudmap(m, "CreateService", body)["Service"]["Id"]

        cls.red = service("colorteller-red", [("A", 60)])
        cls.green = service("colorteller-green", [("A", 30), ("AAAA", 40)], custom_health=True)
        cls.purple = service("colorteller-purple", [("AAAA", 20)])
        cls.grpc = service("grpc", [("SRV", 10)])
        cls.many = service("many", [("A", 5)])
        reg = lambda svc, iid, attrs: cloudmap(m, "RegisterInstance", {"ServiceId": svc, "InstanceId": iid, "Attributes": attrs})
        reg(cls.red, "t1", {"AWS_INSTANCE_IPV4": "198.18.0.2"})
        reg(cls.green, "t1", {"AWS_INSTANCE_IPV4": "198.18.0.5", "AWS_INSTANCE_IPV6": "fd00::5"})
        reg(cls.green, "t2", {"AWS_INSTANCE_IPV4": "198.18.0.6", "AWS_INSTANCE_IPV6": "fd00::6"})
        reg(cls.purple, "t1", {"AWS_INSTANCE_IPV6": "fd00::9"})
        reg(cls.grpc, "task-1", {"AWS_INSTANCE_IPV4": "198.18.0.7", "AWS_INSTANCE_PORT": "9080"})
        for i in range(40):
            reg(cls.many, f"i{i}", {"AWS_INSTANCE_IPV4": f"198.18.1.{i}"})
        r = m.http("PUT", "/meshd/v1/dns/records/colorteller-red.default.svc.cluster.local.dns",
                   {"A": ["198.18.0.2"], "TTL": 5})
        assert r.status == 200, r.body

    def dig(self, name, qtype="A", *flags):
        """Returns (status, answers as "name ttl type data" lines, flags line)."""
        deadline = time.monotonic() + 5
        while True:
            out = subprocess.run([DIG, "@127.0.0.1", "-p", str(self.dns_port), name, qtype, "+time=2", "+tries=1",
                                  "+noall", "+comments", "+answer", "+additional", *flags],
                                 capture_output=True, text=True, timeout=15).stdout
            status = next((l.split("status: ")[1].split(",")[0] for l in out.splitlines() if "status: " in l), None)
            flags_line = next((l for l in out.splitlines() if l.startswith(";; flags:")), "")
            answers = [" ".join(l.split()) for l in out.splitlines() if l and not l.startswith(";")]
            if status is not None or time.monotonic() > deadline:
                return status, answers, flags_line
            time.sleep(0.1)

    def wait_for(self, name, qtype, predicate):
        """Zones follow the store asynchronously: poll until `predicate(answers)` holds (≤5 s)."""
        deadline = time.monotonic() + 5
        while True:
            status, answers, _ = self.dig(name, qtype)
            if predicate(status, answers) or time.monotonic() > deadline:
                return status, answers
            time.sleep(0.1)

    def test_a_only_name_answers_a_and_nodata_for_aaaa(self):
        status, answers = self.wait_for(f"colorteller-red.{ZONE}", "A", lambda s, a: a)
        self.assertEqual(status, "NOERROR")
        self.assertEqual(answers, [f"colorteller-red.{ZONE}. 60 IN A 198.18.0.2"])
        status, answers, flags = self.dig(f"colorteller-red.{ZONE}", "AAAA")
        self.assertEqual((status, answers), ("NOERROR", []))  # NODATA, not NXDOMAIN
        self.assertIn(" aa", flags)

    def test_dual_and_aaaa_only_names(self):
        _, answers = self.wait_for(f"colorteller-green.{ZONE}", "AAAA", lambda s, a: len(a) == 2)
        self.assertEqual(sorted(answers), [f"colorteller-green.{ZONE}. 40 IN AAAA fd00::5",
                                           f"colorteller-green.{ZONE}. 40 IN AAAA fd00::6"])
        status, answers, _ = self.dig(f"colorteller-purple.{ZONE}", "A")
        self.assertEqual((status, answers), ("NOERROR", []))
        status, answers, _ = self.dig(f"colorteller-purple.{ZONE}", "AAAA")
        self.assertEqual(answers, [f"colorteller-purple.{ZONE}. 20 IN AAAA fd00::9"])

    def test_unknown_name_is_nxdomain_and_foreign_name_refused(self):
        self.assertEqual(self.dig(f"colorteller-blue.{ZONE}")[0], "NXDOMAIN")
        self.assertEqual(self.dig("example.com")[0], "REFUSED")

    def test_srv_carries_target_addresses(self):
        status, answers, _ = self.dig(f"grpc.{ZONE}", "SRV")
        self.assertEqual(status, "NOERROR")
        self.assertIn(f"grpc.{ZONE}. 10 IN SRV 1 1 9080 task-1.grpc.{ZONE}.", answers)
        self.assertIn(f"task-1.grpc.{ZONE}. 10 IN A 198.18.0.7", answers)

    def test_health_changes_are_reflected(self):
        cloudmap(self.meshd, "UpdateInstanceCustomHealthStatus",
                 {"ServiceId": self.green, "InstanceId": "t2", "Status": "UNHEALTHY"})
        _, answers = self.wait_for(f"colorteller-green.{ZONE}", "A", lambda s, a: len(a) == 1)
        self.assertEqual(answers, [f"colorteller-green.{ZONE}. 30 IN A 198.18.0.5"])
        cloudmap(self.meshd, "UpdateInstanceCustomHealthStatus",
                 {"ServiceId": self.green, "InstanceId": "t2", "Status": "HEALTHY"})
        _, answers = self.wait_for(f"colorteller-green.{ZONE}", "A", lambda s, a: len(a) == 2)
        self.assertEqual(len(answers), 2)

    def test_registration_and_deregistration_are_reflected(self):
        svc = self.red
        cloudmap(self.meshd, "RegisterInstance", {"ServiceId": svc, "InstanceId": "t9",
                                                  "Attributes": {"AWS_INSTANCE_IPV4": "198.18.0.99"}})
        _, answers = self.wait_for(f"colorteller-red.{ZONE}", "A", lambda s, a: len(a) == 2)
        self.assertIn(f"colorteller-red.{ZONE}. 60 IN A 198.18.0.99", answers)
        cloudmap(self.meshd, "DeregisterInstance", {"ServiceId": svc, "InstanceId": "t9"})
        _, answers = self.wait_for(f"colorteller-red.{ZONE}", "A", lambda s, a: len(a) == 1)
        self.assertEqual(answers, [f"colorteller-red.{ZONE}. 60 IN A 198.18.0.2"])

    def test_multivalue_answers_at_most_eight(self):
        _, answers = self.wait_for(f"many.{ZONE}", "A", lambda s, a: a)
        self.assertEqual(len(answers), 8)

    def test_static_records_for_plain_dns(self):
        status, answers = self.wait_for("colorteller-red.default.svc.cluster.local.dns", "A", lambda s, a: a)
        self.assertEqual(answers, ["colorteller-red.default.svc.cluster.local.dns. 5 IN A 198.18.0.2"])
        self.assertEqual(self.dig("colorteller-red.default.svc.cluster.local.dns", "AAAA")[:2], ("NOERROR", []))
        self.assertEqual(self.dig("colorteller-gray.default.svc.cluster.local.dns")[0], "NXDOMAIN")

    def test_tcp_and_truncation(self):
        # 8 answers fit in 512 bytes; a big static record set does not.
        addrs = [f"198.18.2.{i}" for i in range(60)]
        r = self.meshd.http("PUT", "/meshd/v1/dns/records/big.default.svc.cluster.local.dns", {"A": addrs, "TTL": 5})
        self.assertEqual(r.status, 200, r.body)
        _, answers = self.wait_for("big.default.svc.cluster.local.dns", "A", lambda s, a: len(a) == 60)
        self.assertEqual(len(answers), 60)  # dig retried over TCP after TC
        _, _, flags = self.dig("big.default.svc.cluster.local.dns", "A", "+ignore", "+bufsize=512", "+noedns")
        self.assertIn(" tc", flags)
        _, answers, _ = self.dig("big.default.svc.cluster.local.dns", "A", "+tcp")
        self.assertEqual(len(answers), 60)


if __name__ == "__main__":
    unittest.main()
