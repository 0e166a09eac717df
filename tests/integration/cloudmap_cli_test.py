"""meshd's Cloud Map API (servicediscovery 2017-03-14, JSON 1.1 on the App Mesh listener), driven
through the real AWS CLI v2 and raw HTTP.

One meshd per test class. Every one of the 26 operations is run through the CLI:
  NamespaceTest   create-http/private-dns/public-dns-namespace, get-namespace, list-namespaces,
                  update-http/private-dns/public-dns-namespace, delete-namespace
  ServiceTest     create-service, get-service, list-services, update-service, delete-service
  InstanceTest    register-instance, deregister-instance, get-instance, list-instances,
                  get-instances-health-status, update-instance-custom-health-status
  DiscoverTest    discover-instances (and the JSON 1.1 wire format over raw HTTP)
  OperationsAndTagsTest  get-operation, list-operations, tag-resource, untag-resource,
                  list-tags-for-resource
  DurabilityTest  all of it is still there after a restart
Setup that is not itself under test goes over raw HTTP, which is much faster than the CLI.

discover-instances: botocore puts the operation's host prefix "data-" in front of the endpoint's host,
so the CLI is pointed at http://localhost:<port> and /etc/hosts must map data-localhost to 127.0.0.1.
When that line is missing it is appended if we are root; otherwise the CLI's discover-instances
assertions are skipped (the raw HTTP ones still run). Nothing but loopback is ever contacted: both
names are checked to resolve to loopback addresses only before the CLI is pointed at them.
"""

import fcntl
import functools
import ipaddress
import json
import math
import os
import socket
import time
import unittest
from pathlib import Path
from typing import Optional

from harness import ACCOUNT_ID, CLI_OK, REGION, AwsResult, HttpResult, Meshd, MeshdTestCase

TARGET_PREFIX = "Route53AutoNaming_v20170314"
JSON_11 = "application/x-amz-json-1.1"
DATA_HOST = "data-localhost"
HOSTS_FILE = Path("/etc/hosts")
MISSING_NS = "ns-doesnotexist0000"     # well-formed ids nothing has
MISSING_SVC = "srv-doesnotexist0000"


def as_json(value) -> str:
    return json.dumps(value)


def sd_arn(kind: str, resource_id: str) -> str:
    """sd_arn("namespace", "ns-1") → arn:aws:servicediscovery:us-west-2:123456789012:namespace/ns-1"""
    return f"arn:aws:servicediscovery:{REGION}:{ACCOUNT_ID}:{kind}/{resource_id}"


def dns_config(*types: str, ttl: int = 60, policy: Optional[str] = None) -> dict:
    config = {"DnsRecords": [{"Type": t, "TTL": ttl} for t in types]}
    if policy:
        config["RoutingPolicy"] = policy
    return config


def custom_attributes(count: int) -> dict:
    return {f"custom{i}": f"value{i}" for i in range(count)}


def tag_map(tags: list) -> dict:
    return {t["Key"]: t["Value"] for t in tags}


# -- /etc/hosts: data-localhost ------------------------------------------------------------------

def _maps_data_host(line: str) -> bool:
    fields = line.split("#", 1)[0].split()
    return len(fields) >= 2 and fields[0] == "127.0.0.1" and DATA_HOST in fields[1:]


@functools.lru_cache(maxsize=None)
def data_host_problem() -> Optional[str]:
    """None when the CLI's discover-instances can reach meshd on loopback through `localhost` (after
    appending `127.0.0.1 data-localhost` to /etc/hosts if it is missing and we are root); otherwise
    why it cannot."""
    try:
        present = any(_maps_data_host(line) for line in HOSTS_FILE.read_text().splitlines())
    except OSError as e:
        return f"cannot read {HOSTS_FILE}: {e}"
    if not present:
        if os.geteuid() != 0:
            return f"{HOSTS_FILE} has no '127.0.0.1 {DATA_HOST}' line and only root may add it"
        try:
            # Appended in place (it may be a bind mount) under a lock, so that test processes running
            # in parallel add it once.
            with open(HOSTS_FILE, "r+") as hosts:
                fcntl.flock(hosts, fcntl.LOCK_EX)
                text = hosts.read()
                if not any(_maps_data_host(line) for line in text.splitlines()):
                    hosts.seek(0, os.SEEK_END)
                    hosts.write(("" if not text or text.endswith("\n") else "\n") + f"127.0.0.1 {DATA_HOST}\n")
        except OSError as e:
            return f"cannot append '127.0.0.1 {DATA_HOST}' to {HOSTS_FILE}: {e}"
    for host in ("localhost", DATA_HOST):
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except socket.gaierror as e:
            return f"{host} does not resolve: {e}"
        if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
            return f"{host} resolves to {sorted(addresses)}, not to loopback only"
    return None


# -- raw JSON 1.1 --------------------------------------------------------------------------------

def call(meshd: Meshd, operation: str, body=None) -> HttpResult:
    """POST / with X-Amz-Target: Route53AutoNaming_v20170314.<operation>."""
    return meshd.http("POST", "/", {} if body is None else body,
                      headers={"X-Amz-Target": f"{TARGET_PREFIX}.{operation}", "Content-Type": JSON_11})


def call_ok(meshd: Meshd, operation: str, body=None) -> dict:
    result = call(meshd, operation, body)
    if result.status != 200:
        raise AssertionError(f"{operation} {body} → {result.status} {result.body}\n{meshd.log_tail()}")
    return result.body


def create_namespace(meshd: Meshd, kind: str, name: str, **extra) -> str:
    """kind: "Http", "PrivateDns" or "PublicDns". Returns the new namespace's id."""
    body = {"Name": name, **extra}
    if kind == "PrivateDns":
        body.setdefault("Vpc", "vpc-0123456789abcdef0")
    return namespace_of(meshd, call_ok(meshd, f"Create{kind}Namespace", body)["OperationId"])


def namespace_of(meshd: Meshd, op_id: str) -> str:
    """The namespace a namespace operation targets."""
    return call_ok(meshd, "GetOperation", {"OperationId": op_id})["Operation"]["Targets"]["NAMESPACE"]


def create_service(meshd: Meshd, namespace_id: str, name: str, **extra) -> str:
    """Returns the new service's id."""
    body = {"Name": name, "NamespaceId": namespace_id, **extra}
    return call_ok(meshd, "CreateService", body)["Service"]["Id"]


def register(meshd: Meshd, service_id: str, instance_id: str, attributes: dict) -> str:
    """Returns the operation id."""
    body = {"ServiceId": service_id, "InstanceId": instance_id, "Attributes": attributes}
    return call_ok(meshd, "RegisterInstance", body)["OperationId"]


class CloudMapTestCase(MeshdTestCase):
    """A MeshdTestCase speaking servicediscovery through the CLI and raw JSON 1.1."""

    def sd(self, *args: str, **kwargs) -> AwsResult:
        return self.meshd.aws("servicediscovery", *args, **kwargs)

    def sd_ok(self, *args: str, **kwargs):
        """Runs a servicediscovery command that must succeed; returns its JSON output (None if empty)."""
        result = self.sd(*args, **kwargs)
        self.assertEqual(result.rc, CLI_OK, f"aws servicediscovery {' '.join(args)} → rc={result.rc}\n"
                                            f"{result.err}\n{self.meshd.log_tail()}")
        return result.out

    def discover(self, *args: str) -> AwsResult:
        """`aws servicediscovery discover-instances ARGS` against http://localhost:<port>, which the CLI
        turns into http://data-localhost:<port>."""
        problem = data_host_problem()
        if problem:
            self.skipTest(f"the CLI's discover-instances needs {DATA_HOST} → 127.0.0.1: {problem}")
        return self.sd("discover-instances", *args, endpoint=f"http://localhost:{self.meshd.port}")

    def discover_ok(self, *args: str) -> list:
        result = self.discover(*args)
        self.assertEqual(result.rc, CLI_OK,
                         f"discover-instances {' '.join(args)} → rc={result.rc}\n{result.err}")
        return result.out["Instances"]

    def call(self, operation: str, body=None) -> HttpResult:
        return call(self.meshd, operation, body)

    def call_ok(self, operation: str, body=None) -> dict:
        return call_ok(self.meshd, operation, body)

    def operation(self, op_id: str) -> dict:
        return self.sd_ok("get-operation", "--operation-id", op_id)["Operation"]

    def assertOperation(self, op_id: str, op_type: str, targets: dict) -> dict:
        op = self.operation(op_id)
        self.assertEqual(op["Id"], op_id)
        self.assertEqual(op["Type"], op_type)
        self.assertEqual(op["Status"], "SUCCESS")
        self.assertEqual(op["Targets"], targets)
        self.assertIn("CreateDate", op)
        self.assertIn("UpdateDate", op)
        return op

    def assertApiError(self, result: HttpResult, error_type: str, exact_shape: bool = True):
        """A JSON 1.1 error: 400, application/x-amz-json-1.1, {"__type": <type>, "Message": "..."}."""
        context = f"status={result.status} headers={dict(result.headers)} body={result.body}"
        self.assertEqual(result.status, 400, context)
        self.assertEqual(result.headers.get("Content-Type"), JSON_11, context)
        self.assertIsInstance(result.body, dict, context)
        self.assertEqual(result.body.get("__type"), error_type, context)
        self.assertIsInstance(result.body.get("Message"), str, context)
        if exact_shape:
            self.assertEqual(set(result.body), {"__type", "Message"}, context)

    def ids(self, instances: list) -> set:
        return {i["InstanceId"] if "InstanceId" in i else i["Id"] for i in instances}


# -- namespaces ----------------------------------------------------------------------------------

class NamespaceTest(CloudMapTestCase):
    FILTERED = {"flt-http-a": "Http", "flt-priv-a.internal": "PrivateDns", "flt-pub-a.example.com": "PublicDns",
                "other-priv.internal": "PrivateDns"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.filtered_ids = {name: create_namespace(cls.meshd, kind, name)
                            for name, kind in cls.FILTERED.items()}

    def list_names(self, *args: str) -> list:
        return [ns["Name"] for ns in self.sd_ok("list-namespaces", *args)["Namespaces"]]

    def test_http_namespace_lifecycle(self):
        op_id = self.sd_ok("create-http-namespace", "--name", "life-http",
                           "--description", "first")["OperationId"]
        ns_id = self.operation(op_id)["Targets"]["NAMESPACE"]
        self.assertOperation(op_id, "CREATE_NAMESPACE", {"NAMESPACE": ns_id})
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["Id"], ns_id)
        self.assertEqual(ns["Arn"], sd_arn("namespace", ns_id))
        self.assertEqual(ns["Name"], "life-http")
        self.assertEqual(ns["Type"], "HTTP")
        self.assertEqual(ns["Description"], "first")
        self.assertEqual(ns["ServiceCount"], 0)
        self.assertEqual(ns["Properties"]["HttpProperties"]["HttpName"], "life-http")
        self.assertIn("CreateDate", ns)

        op_id = self.sd_ok("update-http-namespace", "--id", ns_id,
                           "--namespace", "Description=second")["OperationId"]
        self.assertOperation(op_id, "UPDATE_NAMESPACE", {"NAMESPACE": ns_id})
        self.assertEqual(self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]["Description"], "second")

        op_id = self.sd_ok("delete-namespace", "--id", ns_id)["OperationId"]
        self.assertOperation(op_id, "DELETE_NAMESPACE", {"NAMESPACE": ns_id})
        self.assertCliError(self.sd("get-namespace", "--id", ns_id), "NamespaceNotFound", "GetNamespace")

    def test_private_dns_namespace_lifecycle(self):
        op_id = self.sd_ok("create-private-dns-namespace", "--name", "life-priv.internal", "--vpc", "vpc-life",
                           "--properties", as_json({"DnsProperties": {"SOA": {"TTL": 60}}}))["OperationId"]
        ns_id = self.operation(op_id)["Targets"]["NAMESPACE"]
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["Type"], "DNS_PRIVATE")
        self.assertEqual(ns["Name"], "life-priv.internal")
        self.assertEqual(ns["Properties"]["HttpProperties"]["HttpName"], "life-priv.internal")
        self.assertEqual(ns["Properties"]["DnsProperties"]["SOA"], {"TTL": 60})
        self.assertTrue(ns["Properties"]["DnsProperties"]["HostedZoneId"])

        change = {"Description": "private zone", "Properties": {"DnsProperties": {"SOA": {"TTL": 120}}}}
        op_id = self.sd_ok("update-private-dns-namespace", "--id", ns_id,
                           "--namespace", as_json(change))["OperationId"]
        self.assertOperation(op_id, "UPDATE_NAMESPACE", {"NAMESPACE": ns_id})
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["Description"], "private zone")
        self.assertEqual(ns["Properties"]["DnsProperties"]["SOA"], {"TTL": 120})
        # The update operation must match the namespace's type. (meshd answers InvalidInput; AWS documents
        # no specific error for this.)
        self.assertCliError(self.sd("update-http-namespace", "--id", ns_id, "--namespace", "Description=x"),
                            "InvalidInput", "UpdateHttpNamespace")

    def test_public_dns_namespace_lifecycle(self):
        op_id = self.sd_ok("create-public-dns-namespace", "--name", "life-pub.example.com",
                           "--description", "public")["OperationId"]
        ns_id = self.operation(op_id)["Targets"]["NAMESPACE"]
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["Type"], "DNS_PUBLIC")
        self.assertEqual(ns["Description"], "public")
        self.assertTrue(ns["Properties"]["DnsProperties"]["HostedZoneId"])

        change = {"Properties": {"DnsProperties": {"SOA": {"TTL": 300}}}}
        op_id = self.sd_ok("update-public-dns-namespace", "--id", ns_id,
                           "--namespace", as_json(change))["OperationId"]
        self.assertOperation(op_id, "UPDATE_NAMESPACE", {"NAMESPACE": ns_id})
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["Properties"]["DnsProperties"]["SOA"], {"TTL": 300})
        self.assertEqual(ns["Description"], "public")  # not part of the change: kept

    def test_list_namespaces_filters(self):
        private = self.list_names("--filters", "Name=TYPE,Values=DNS_PRIVATE,Condition=EQ")
        self.assertIn("flt-priv-a.internal", private)
        self.assertIn("other-priv.internal", private)
        self.assertNotIn("flt-http-a", private)
        self.assertNotIn("flt-pub-a.example.com", private)

        prefixed = self.sd_ok("list-namespaces",
                              "--filters", "Name=NAME,Values=flt-,Condition=BEGINS_WITH")["Namespaces"]
        self.assertCountEqual([ns["Name"] for ns in prefixed],
                              ["flt-http-a", "flt-priv-a.internal", "flt-pub-a.example.com"])
        by_name = {ns["Name"]: ns for ns in prefixed}
        summary = by_name["flt-priv-a.internal"]
        self.assertEqual(summary["Id"], self.filtered_ids["flt-priv-a.internal"])
        self.assertEqual(summary["Arn"], sd_arn("namespace", summary["Id"]))
        self.assertEqual(summary["Type"], "DNS_PRIVATE")
        self.assertEqual(summary["ServiceCount"], 0)
        self.assertEqual(by_name["flt-http-a"]["Type"], "HTTP")
        self.assertEqual(by_name["flt-pub-a.example.com"]["Type"], "DNS_PUBLIC")

        # Several filters: a namespace must match all of them.
        both = self.list_names("--filters", "Name=TYPE,Values=DNS_PRIVATE,Condition=EQ",
                               "Name=NAME,Values=flt-,Condition=BEGINS_WITH")
        self.assertEqual(both, ["flt-priv-a.internal"])
        self.assertEqual(self.list_names("--filters", "Name=HTTP_NAME,Values=flt-http-a,Condition=EQ"),
                         ["flt-http-a"])

    def test_list_namespaces_pagination(self):
        prefix_filter = ("--filters", "Name=NAME,Values=flt-,Condition=BEGINS_WITH")
        paged = self.list_names(*prefix_filter, "--page-size", "1")
        self.assertCountEqual(paged, ["flt-http-a", "flt-priv-a.internal", "flt-pub-a.example.com"])
        first = self.sd_ok("list-namespaces", "--max-items", "1")
        self.assertEqual(len(first["Namespaces"]), 1)
        self.assertIn("NextToken", first)

    def test_creator_request_id_makes_create_idempotent(self):
        args = ("create-http-namespace", "--name", "idem-ns", "--creator-request-id", "creator-1")
        first = self.sd_ok(*args)["OperationId"]
        self.assertEqual(self.sd_ok(*args)["OperationId"], first)
        self.assertCliError(self.sd("create-http-namespace", "--name", "idem-ns",
                                    "--creator-request-id", "creator-2"),
                            "NamespaceAlreadyExists", "CreateHttpNamespace")
        # Without one the CLI makes up a fresh CreatorRequestId: a different creator too.
        self.assertCliError(self.sd("create-http-namespace", "--name", "idem-ns"),
                            "NamespaceAlreadyExists", "CreateHttpNamespace")
        ns_id = self.operation(first)["Targets"]["NAMESPACE"]
        ns = self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]
        self.assertEqual(ns["CreatorRequestId"], "creator-1")
        self.assertEqual(self.list_names("--filters", "Name=NAME,Values=idem-ns,Condition=EQ"), ["idem-ns"])

    def test_missing_namespace_is_not_found(self):
        self.assertCliError(self.sd("get-namespace", "--id", MISSING_NS), "NamespaceNotFound", "GetNamespace")
        self.assertCliError(self.sd("update-http-namespace", "--id", MISSING_NS,
                                    "--namespace", "Description=x"),
                            "NamespaceNotFound", "UpdateHttpNamespace")
        self.assertCliError(self.sd("delete-namespace", "--id", MISSING_NS),
                            "NamespaceNotFound", "DeleteNamespace")
        self.assertApiError(self.call("GetNamespace", {"Id": MISSING_NS}), "NamespaceNotFound")

    def test_delete_namespace_with_services_is_in_use(self):
        ns_id = create_namespace(self.meshd, "Http", "busy-ns")
        svc_id = create_service(self.meshd, ns_id, "tenant")
        self.assertCliError(self.sd("delete-namespace", "--id", ns_id), "ResourceInUse", "DeleteNamespace")
        self.assertEqual(self.sd_ok("get-namespace", "--id", ns_id)["Namespace"]["ServiceCount"], 1)
        self.call_ok("DeleteService", {"Id": svc_id})
        self.sd_ok("delete-namespace", "--id", ns_id)
        self.assertApiError(self.call("GetNamespace", {"Id": ns_id}), "NamespaceNotFound")


# -- services ------------------------------------------------------------------------------------

class ServiceTest(CloudMapTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.meshd
        cls.private_ns = create_namespace(m, "PrivateDns", "svc.internal")
        cls.public_ns = create_namespace(m, "PublicDns", "svc.example.com")
        cls.http_ns = create_namespace(m, "Http", "svc-http")
        cls.listed_ns = create_namespace(m, "Http", "svc-listed")
        cls.listed = {name: create_service(m, cls.listed_ns, name, Description=f"{name} service")
                      for name in ("listed-1", "listed-2")}
        register(m, cls.listed["listed-1"], "only", {"color": "red"})
        cls.base_http = create_service(m, cls.http_ns, "base-http")

    def create_cli(self, name: str, namespace_id: str, *extra: str) -> AwsResult:
        return self.sd("create-service", "--name", name, "--namespace-id", namespace_id, *extra)

    def test_dns_record_combinations(self):
        cases = [("combo-a", dns_config("A")), ("combo-aaaa", dns_config("AAAA")),
                 ("combo-dual", dns_config("A", "AAAA")), ("combo-srv", dns_config("SRV")),
                 ("combo-cname", dns_config("CNAME", policy="WEIGHTED"))]
        for name, config in cases:
            with self.subTest(name=name):
                result = self.create_cli(name, self.private_ns, "--dns-config", as_json(config))
                self.assertEqual(result.rc, CLI_OK, result.err)
                svc = result.out["Service"]
                self.assertEqual(svc["Name"], name)
                self.assertEqual(svc["NamespaceId"], self.private_ns)
                self.assertEqual(svc["Arn"], sd_arn("service", svc["Id"]))
                self.assertEqual(svc["Type"], "DNS_HTTP")
                self.assertEqual(svc["DnsConfig"]["DnsRecords"], config["DnsRecords"])
                self.assertEqual(svc["DnsConfig"]["RoutingPolicy"], config.get("RoutingPolicy", "MULTIVALUE"))
                self.assertIn("CreatorRequestId", svc)  # the CLI fills it in

    def test_invalid_dns_combinations(self):
        cases = {"a-and-srv": dns_config("A", "SRV"),
                 "srv-and-cname": dns_config("SRV", "CNAME", policy="WEIGHTED"),
                 "a-twice": dns_config("A", "A"),
                 "cname-multivalue": dns_config("CNAME", policy="MULTIVALUE"),
                 "cname-default-policy": dns_config("CNAME")}  # the default policy is MULTIVALUE
        for name, config in cases.items():
            with self.subTest(name=name):
                self.assertCliError(self.create_cli(name, self.private_ns, "--dns-config", as_json(config)),
                                    "InvalidInput", "CreateService")
        self.assertApiError(self.call("GetService", {"Id": MISSING_SVC}), "ServiceNotFound")
        in_ns = {"Filters": [{"Name": "NAMESPACE_ID", "Values": [self.private_ns]}]}
        listed = self.call_ok("ListServices", in_ns)
        self.assertFalse({s["Name"] for s in listed["Services"]} & set(cases))

    def test_invalid_health_check_and_namespace_combinations(self):
        health_check = {"Type": "HTTP", "ResourcePath": "/health", "FailureThreshold": 2}
        health = ("--health-check-config", as_json(health_check))
        a_record = ("--dns-config", as_json(dns_config("A")))
        cname = ("--dns-config", as_json(dns_config("CNAME", policy="WEIGHTED")))
        cases = {
            "dns-in-http-namespace": (self.http_ns, *a_record),
            "health-check-in-private-namespace": (self.private_ns, *a_record, *health),
            "both-health-checks": (self.public_ns, *a_record, *health,
                                   "--health-check-custom-config", "FailureThreshold=1"),
            # AWS documents this one explicitly: CNAME and HealthCheckConfig cannot be combined.
            "cname-with-health-check": (self.public_ns, *cname, *health),
        }
        for name, (ns_id, *extra) in cases.items():
            with self.subTest(name=name):
                self.assertCliError(self.create_cli(name, ns_id, *extra), "InvalidInput", "CreateService")

    def test_health_check_configs(self):
        health = {"Type": "HTTP", "ResourcePath": "/health", "FailureThreshold": 2}
        svc = self.create_cli("checked", self.public_ns, "--dns-config", as_json(dns_config("A")),
                              "--health-check-config", as_json(health))
        self.assertEqual(svc.rc, CLI_OK, svc.err)
        self.assertEqual(svc.out["Service"]["HealthCheckConfig"], health)
        custom = self.create_cli("custom-checked", self.private_ns, "--dns-config", as_json(dns_config("A")),
                                 "--health-check-custom-config", "FailureThreshold=1")
        self.assertEqual(custom.rc, CLI_OK, custom.err)
        got = self.sd_ok("get-service", "--id", custom.out["Service"]["Id"])["Service"]
        self.assertEqual(got["HealthCheckCustomConfig"], {"FailureThreshold": 1})
        self.assertNotIn("HealthCheckConfig", got)

    def test_http_type_in_dns_namespace(self):
        result = self.create_cli("api-only", self.private_ns, "--type", "HTTP")
        self.assertEqual(result.rc, CLI_OK, result.err)
        self.assertEqual(result.out["Service"]["Type"], "HTTP")
        self.assertNotIn("DnsConfig", result.out["Service"])

    def test_get_and_list_services(self):
        svc = self.sd_ok("get-service", "--id", self.listed["listed-1"])["Service"]
        self.assertEqual(svc["Id"], self.listed["listed-1"])
        self.assertEqual(svc["Arn"], sd_arn("service", svc["Id"]))
        self.assertEqual(svc["Name"], "listed-1")
        self.assertEqual(svc["NamespaceId"], self.listed_ns)
        self.assertEqual(svc["Description"], "listed-1 service")
        self.assertEqual(svc["Type"], "HTTP")
        self.assertEqual(svc["InstanceCount"], 1)

        in_ns = self.sd_ok("list-services",
                           "--filters", f"Name=NAMESPACE_ID,Values={self.listed_ns},Condition=EQ")
        summaries = {s["Name"]: s for s in in_ns["Services"]}
        self.assertEqual(set(summaries), {"listed-1", "listed-2"})
        self.assertEqual(summaries["listed-1"]["Id"], self.listed["listed-1"])
        self.assertEqual(summaries["listed-1"]["InstanceCount"], 1)
        self.assertEqual(summaries["listed-2"]["InstanceCount"], 0)

        everything = {s["Id"] for s in self.sd_ok("list-services")["Services"]}
        self.assertLessEqual({*self.listed.values(), self.base_http}, everything)
        first = self.sd_ok("list-services", "--max-items", "1")
        self.assertEqual(len(first["Services"]), 1)
        self.assertIn("NextToken", first)

    def test_update_service(self):
        svc_id = create_service(self.meshd, self.private_ns, "upd", DnsConfig=dns_config("A", ttl=60),
                                Description="before")
        change = {"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}, "Description": "after"}
        op_id = self.sd_ok("update-service", "--id", svc_id, "--service", as_json(change))["OperationId"]
        self.assertOperation(op_id, "UPDATE_SERVICE", {"SERVICE": svc_id})
        svc = self.sd_ok("get-service", "--id", svc_id)["Service"]
        self.assertEqual(svc["DnsConfig"]["DnsRecords"], [{"Type": "A", "TTL": 300}])
        self.assertEqual(svc["Description"], "after")

        for types in (("AAAA",), ("A", "AAAA")):
            with self.subTest(types=types):
                retype = {"DnsConfig": {"DnsRecords": dns_config(*types, ttl=300)["DnsRecords"]}}
                self.assertCliError(self.sd("update-service", "--id", svc_id, "--service", as_json(retype)),
                                    "InvalidInput", "UpdateService")
        after = self.call_ok("GetService", {"Id": svc_id})["Service"]
        self.assertEqual(after["DnsConfig"]["DnsRecords"], [{"Type": "A", "TTL": 300}])
        self.assertCliError(self.sd("update-service", "--id", MISSING_SVC, "--service", as_json(change)),
                            "ServiceNotFound", "UpdateService")

    def test_service_errors_and_idempotency(self):
        self.assertCliError(self.sd("get-service", "--id", MISSING_SVC), "ServiceNotFound", "GetService")
        self.assertCliError(self.sd("delete-service", "--id", MISSING_SVC), "ServiceNotFound", "DeleteService")
        self.assertCliError(self.create_cli("orphan", MISSING_NS), "NamespaceNotFound", "CreateService")

        args = ("dup", self.http_ns, "--creator-request-id", "svc-creator-1")
        first = self.create_cli(*args)
        self.assertEqual(first.rc, CLI_OK, first.err)
        again = self.create_cli(*args)
        self.assertEqual(again.rc, CLI_OK, again.err)
        self.assertEqual(again.out["Service"]["Id"], first.out["Service"]["Id"])
        self.assertCliError(self.create_cli("dup", self.http_ns, "--creator-request-id", "svc-creator-2"),
                            "ServiceAlreadyExists", "CreateService")
        # The same name in another namespace is another service.
        other = self.create_cli("dup", self.listed_ns)
        self.assertEqual(other.rc, CLI_OK, other.err)
        self.assertNotEqual(other.out["Service"]["Id"], first.out["Service"]["Id"])

    def test_delete_service_with_instances_is_in_use(self):
        svc_id = create_service(self.meshd, self.http_ns, "doomed")
        register(self.meshd, svc_id, "last", {"color": "blue"})
        self.assertCliError(self.sd("delete-service", "--id", svc_id), "ResourceInUse", "DeleteService")
        self.assertEqual(self.call_ok("GetService", {"Id": svc_id})["Service"]["InstanceCount"], 1)
        self.call_ok("DeregisterInstance", {"ServiceId": svc_id, "InstanceId": "last"})
        self.sd_ok("delete-service", "--id", svc_id)
        self.assertCliError(self.sd("get-service", "--id", svc_id), "ServiceNotFound", "GetService")


# -- instances -----------------------------------------------------------------------------------

class InstanceTest(CloudMapTestCase):
    IPV4 = "10.1.2.3"
    IPV6 = "2001:db8::7"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.meshd
        dns_ns = create_namespace(m, "PrivateDns", "inst.internal")
        http_ns = create_namespace(m, "Http", "inst-http")
        cls.svc = {name: create_service(m, dns_ns, name, DnsConfig=config) for name, config in {
            "a": dns_config("A"), "aaaa": dns_config("AAAA"), "dual": dns_config("A", "AAAA"),
            "srv": dns_config("SRV"), "cname": dns_config("CNAME", policy="WEIGHTED")}.items()}
        for name in ("plain", "paged", "lifecycle"):
            cls.svc[name] = create_service(m, http_ns, name)
        cls.svc["custom"] = create_service(m, http_ns, "custom",
                                           HealthCheckCustomConfig={"FailureThreshold": 1})
        cls.paged = [f"page-{i}" for i in range(5)]
        for instance_id in cls.paged:
            register(m, cls.svc["paged"], instance_id, {"n": instance_id})
        register(m, cls.svc["plain"], "plain-fixed", {"color": "green"})
        register(m, cls.svc["custom"], "h-1", {"color": "red"})
        register(m, cls.svc["custom"], "h-2", {"color": "red", "AWS_INIT_HEALTH_STATUS": "UNHEALTHY"})

    def register_cli(self, service: str, instance_id: str, attributes: dict) -> AwsResult:
        return self.sd("register-instance", "--service-id", self.svc[service], "--instance-id", instance_id,
                       "--attributes", as_json(attributes))

    def test_register_with_the_attributes_each_record_type_needs(self):
        ok = [("a", {"AWS_INSTANCE_IPV4": self.IPV4}),
              ("aaaa", {"AWS_INSTANCE_IPV6": self.IPV6}),
              ("dual", {"AWS_INSTANCE_IPV4": self.IPV4, "AWS_INSTANCE_IPV6": self.IPV6}),
              ("srv", {"AWS_INSTANCE_IPV4": self.IPV4, "AWS_INSTANCE_PORT": "8080"}),
              ("cname", {"AWS_INSTANCE_CNAME": "backend.example.com"}),
              ("plain", {"color": "blue", "stage": "prod"})]
        for service, attributes in ok:
            with self.subTest(service=service, attributes=attributes):
                result = self.register_cli(service, f"{service}-ok", attributes)
                self.assertEqual(result.rc, CLI_OK, result.err)
                self.assertTrue(result.out["OperationId"])
                got = self.call_ok("GetInstance", {"ServiceId": self.svc[service],
                                                   "InstanceId": f"{service}-ok"})["Instance"]
                self.assertEqual(got["Attributes"], attributes)
        missing = [("a", {"AWS_INSTANCE_IPV6": self.IPV6}),           # A needs IPv4
                   ("aaaa", {"AWS_INSTANCE_IPV4": self.IPV4}),        # AAAA needs IPv6
                   ("dual", {"AWS_INSTANCE_IPV4": self.IPV4}),        # A+AAAA needs both
                   ("srv", {"AWS_INSTANCE_IPV4": self.IPV4}),         # SRV needs a port...
                   ("srv", {"AWS_INSTANCE_PORT": "8080"}),            # ...and an address
                   ("cname", {"AWS_INSTANCE_IPV4": self.IPV4})]       # CNAME needs AWS_INSTANCE_CNAME
        for service, attributes in missing:
            with self.subTest(service=service, attributes=attributes):
                self.assertCliError(self.register_cli(service, f"{service}-bad", attributes),
                                    "InvalidInput", "RegisterInstance")
                not_there = self.call("GetInstance", {"ServiceId": self.svc[service],
                                                      "InstanceId": f"{service}-bad"})
                self.assertApiError(not_there, "InstanceNotFound")

    def test_invalid_attribute_values(self):
        cases = [("a", {"AWS_INSTANCE_IPV4": "300.1.2.3"}),
                 ("a", {"AWS_INSTANCE_IPV4": "10.0.0"}),
                 ("aaaa", {"AWS_INSTANCE_IPV6": "2001:db8::zz"}),
                 ("srv", {"AWS_INSTANCE_IPV4": self.IPV4, "AWS_INSTANCE_PORT": "70000"}),
                 ("srv", {"AWS_INSTANCE_IPV4": self.IPV4, "AWS_INSTANCE_PORT": "http"}),
                 ("custom", {"AWS_INIT_HEALTH_STATUS": "SICK"}),
                 ("plain", custom_attributes(31))]
        for service, attributes in cases:
            with self.subTest(service=service, attributes=list(attributes.items())[:2]):
                self.assertCliError(self.register_cli(service, "invalid", attributes),
                                    "InvalidInput", "RegisterInstance")
        # 30 custom attributes are allowed, and the AWS_ ones do not count.
        result = self.register_cli("a", "thirty", {**custom_attributes(30), "AWS_INSTANCE_IPV4": self.IPV4})
        self.assertEqual(result.rc, CLI_OK, result.err)

    def test_instance_lifecycle(self):
        svc_id = self.svc["lifecycle"]
        registered = self.register_cli("lifecycle", "life-1", {"color": "red", "AWS_INSTANCE_IPV4": self.IPV4})
        self.assertEqual(registered.rc, CLI_OK, registered.err)
        op_id = registered.out["OperationId"]
        self.assertOperation(op_id, "REGISTER_INSTANCE", {"INSTANCE": "life-1", "SERVICE": svc_id})
        got = self.sd_ok("get-instance", "--service-id", svc_id, "--instance-id", "life-1")["Instance"]
        self.assertEqual(got["Id"], "life-1")
        self.assertEqual(got["Attributes"], {"color": "red", "AWS_INSTANCE_IPV4": self.IPV4})
        self.assertIn("CreatorRequestId", got)

        # Registering the same id again replaces its attributes.
        self.assertEqual(self.register_cli("lifecycle", "life-1", {"color": "blue"}).rc, CLI_OK)
        got = self.sd_ok("get-instance", "--service-id", svc_id, "--instance-id", "life-1")["Instance"]
        self.assertEqual(got["Attributes"], {"color": "blue"})
        self.assertEqual(self.call_ok("GetService", {"Id": svc_id})["Service"]["InstanceCount"], 1)

        op_id = self.sd_ok("deregister-instance", "--service-id", svc_id,
                           "--instance-id", "life-1")["OperationId"]
        self.assertOperation(op_id, "DEREGISTER_INSTANCE", {"INSTANCE": "life-1", "SERVICE": svc_id})
        self.assertCliError(self.sd("get-instance", "--service-id", svc_id, "--instance-id", "life-1"),
                            "InstanceNotFound", "GetInstance")
        self.assertCliError(self.sd("deregister-instance", "--service-id", svc_id, "--instance-id", "life-1"),
                            "InstanceNotFound", "DeregisterInstance")
        self.assertEqual(self.call_ok("GetService", {"Id": svc_id})["Service"]["InstanceCount"], 0)

    def test_missing_service_is_not_found(self):
        missing = MISSING_SVC
        self.assertCliError(self.sd("register-instance", "--service-id", missing, "--instance-id", "i",
                                    "--attributes", "color=red"), "ServiceNotFound", "RegisterInstance")
        self.assertCliError(self.sd("get-instance", "--service-id", missing, "--instance-id", "i"),
                            "ServiceNotFound", "GetInstance")
        self.assertCliError(self.sd("list-instances", "--service-id", missing),
                            "ServiceNotFound", "ListInstances")

    def test_list_instances_pagination(self):
        svc_id = self.svc["paged"]
        everything = self.sd_ok("list-instances", "--service-id", svc_id)["Instances"]
        self.assertCountEqual(self.ids(everything), self.paged)
        self.assertIn({"Id": "page-0", "Attributes": {"n": "page-0"}}, everything)

        paged = self.sd_ok("list-instances", "--service-id", svc_id, "--page-size", "2")
        self.assertCountEqual(self.ids(paged["Instances"]), self.paged)
        self.assertNotIn("NextToken", paged)

        first = self.sd_ok("list-instances", "--service-id", svc_id, "--max-items", "2")
        self.assertEqual(len(first["Instances"]), 2)
        self.assertIn("NextToken", first)
        rest = self.sd_ok("list-instances", "--service-id", svc_id, "--max-items", "10",
                          "--starting-token", first["NextToken"])
        self.assertNotIn("NextToken", rest)
        self.assertCountEqual(self.ids(first["Instances"] + rest["Instances"]), self.paged)

        sizes, token = [], None
        for _ in range(10):  # bounded: a server that never stops paging fails, not hangs
            page = self.call_ok("ListInstances", {"ServiceId": svc_id, "MaxResults": 2,
                                                  **({"NextToken": token} if token else {})})
            sizes.append(len(page["Instances"]))
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(sizes, [2, 2, 1])

    def test_custom_health_status(self):
        svc_id = self.svc["custom"]
        status = self.sd_ok("get-instances-health-status", "--service-id", svc_id)["Status"]
        self.assertEqual(status, {"h-1": "HEALTHY", "h-2": "UNHEALTHY"})  # AWS_INIT_HEALTH_STATUS, else HEALTHY

        self.assertIsNone(self.sd_ok("update-instance-custom-health-status", "--service-id", svc_id,
                                     "--instance-id", "h-2", "--status", "HEALTHY"))
        self.sd_ok("update-instance-custom-health-status", "--service-id", svc_id, "--instance-id", "h-1",
                   "--status", "UNHEALTHY")
        status = self.sd_ok("get-instances-health-status", "--service-id", svc_id, "--instances", "h-2")
        self.assertEqual(status["Status"], {"h-2": "HEALTHY"})
        one = self.sd_ok("get-instances-health-status", "--service-id", svc_id, "--max-results", "1")
        self.assertEqual(len(one["Status"]), 1)
        self.assertIn("NextToken", one)
        rest = self.call_ok("GetInstancesHealthStatus", {"ServiceId": svc_id, "NextToken": one["NextToken"]})
        self.assertEqual({**one["Status"], **rest["Status"]}, {"h-1": "UNHEALTHY", "h-2": "HEALTHY"})

        self.assertCliError(self.sd("update-instance-custom-health-status", "--service-id", self.svc["plain"],
                                    "--instance-id", "plain-fixed", "--status", "UNHEALTHY"),
                            "CustomHealthNotFound", "UpdateInstanceCustomHealthStatus")
        self.assertCliError(self.sd("update-instance-custom-health-status", "--service-id", svc_id,
                                    "--instance-id", "nope", "--status", "UNHEALTHY"),
                            "InstanceNotFound", "UpdateInstanceCustomHealthStatus")
        self.assertCliError(self.sd("get-instances-health-status", "--service-id", svc_id,
                                    "--instances", "nope"),
                            "InstanceNotFound", "GetInstancesHealthStatus")

    def test_health_status_without_health_check_is_unknown(self):
        # AWS documents Healthy, Unhealthy or Unknown; a service without any health check has nothing to
        # report but Unknown (meshd's reading; AWS does not spell this case out).
        status = self.sd_ok("get-instances-health-status", "--service-id", self.svc["plain"],
                            "--instances", "plain-fixed")["Status"]
        self.assertEqual(status, {"plain-fixed": "UNKNOWN"})


# -- discovery -----------------------------------------------------------------------------------

class DiscoverTest(CloudMapTestCase):
    WEB = {"w1": ({"version": "v1", "az": "a"}, "HEALTHY"),
           "w2": ({"version": "v1", "az": "b"}, "HEALTHY"),
           "w3": ({"version": "v2", "az": "a"}, "UNHEALTHY"),
           "w4": ({"version": "v2", "az": "b"}, "HEALTHY")}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.meshd
        shop = create_namespace(m, "Http", "shop")
        custom = {"HealthCheckCustomConfig": {"FailureThreshold": 1}}
        web = create_service(m, shop, "web", **custom)
        for instance_id, (attributes, health) in cls.WEB.items():
            register(m, web, instance_id, {**attributes, "AWS_INIT_HEALTH_STATUS": health})
        down = create_service(m, shop, "down", **custom)
        for instance_id in ("d1", "d2"):
            register(m, down, instance_id, {"AWS_INIT_HEALTH_STATUS": "UNHEALTHY"})
        plain = create_service(m, shop, "plain")
        for instance_id in ("p1", "p2"):
            register(m, plain, instance_id, {"color": "red"})
        cls.rev_service = create_service(m, shop, "rev", **custom)
        internal = create_namespace(m, "PrivateDns", "disc.internal")
        api = create_service(m, internal, "api", DnsConfig=dns_config("A"))
        register(m, api, "a1", {"AWS_INSTANCE_IPV4": "10.9.8.7"})

    def discover_ids(self, service: str, *args: str, namespace: str = "shop") -> set:
        return self.ids(self.discover_ok("--namespace-name", namespace, "--service-name", service, *args))

    def test_default_returns_healthy_instances(self):
        instances = self.discover_ok("--namespace-name", "shop", "--service-name", "web")
        self.assertEqual(self.ids(instances), {"w1", "w2", "w4"})
        w1 = next(i for i in instances if i["InstanceId"] == "w1")
        self.assertEqual(w1, {"InstanceId": "w1", "NamespaceName": "shop", "ServiceName": "web",
                              "HealthStatus": "HEALTHY",
                              "Attributes": {"version": "v1", "az": "a", "AWS_INIT_HEALTH_STATUS": "HEALTHY"}})

    def test_health_status_filters(self):
        cases = [("web", "HEALTHY", {"w1", "w2", "w4"}), ("web", "UNHEALTHY", {"w3"}),
                 ("web", "ALL", {"w1", "w2", "w3", "w4"}), ("web", "HEALTHY_OR_ELSE_ALL", {"w1", "w2", "w4"}),
                 ("down", "HEALTHY", set()), ("down", "HEALTHY_OR_ELSE_ALL", {"d1", "d2"})]
        for service, health, expected in cases:
            with self.subTest(service=service, health=health):
                self.assertEqual(self.discover_ids(service, "--health-status", health), expected)

    def test_health_status_is_ignored_without_health_check(self):
        # "This parameter is ignored for services that don't have a health check configured, and all
        # instances are returned." (DiscoverInstancesRequest.HealthStatus in the service model)
        for health in ("HEALTHY", "UNHEALTHY"):
            with self.subTest(health=health):
                self.assertEqual(self.discover_ids("plain", "--health-status", health), {"p1", "p2"})

    def test_query_and_optional_parameters(self):
        cases = [(("--query-parameters", "version=v1"), {"w1", "w2"}),
                 (("--query-parameters", "version=v1", "--optional-parameters", "az=b"), {"w2"}),
                 (("--query-parameters", "version=v1", "--optional-parameters", "az=nowhere"), {"w1", "w2"}),
                 (("--query-parameters", "version=v9"), set()),
                 (("--query-parameters", "version=v2,az=a", "--health-status", "ALL"), {"w3"})]
        for args, expected in cases:
            with self.subTest(args=args):
                self.assertEqual(self.discover_ids("web", *args), expected)

    def test_max_results(self):
        ids = self.discover_ids("web", "--health-status", "ALL", "--max-results", "2")
        self.assertEqual(len(ids), 2)
        self.assertLessEqual(ids, set(self.WEB))

    def test_dns_namespace(self):
        instances = self.discover_ok("--namespace-name", "disc.internal", "--service-name", "api")
        self.assertEqual([(i["InstanceId"], i["Attributes"]) for i in instances],
                         [("a1", {"AWS_INSTANCE_IPV4": "10.9.8.7"})])

    def test_missing_namespace_and_service(self):
        self.assertCliError(self.discover("--namespace-name", "no-such-ns", "--service-name", "web"),
                            "NamespaceNotFound", "DiscoverInstances")
        self.assertCliError(self.discover("--namespace-name", "shop", "--service-name", "no-such-svc"),
                            "ServiceNotFound", "DiscoverInstances")

    def test_raw_http_discover(self):
        result = self.call("DiscoverInstances", {"NamespaceName": "shop", "ServiceName": "web",
                                                 "QueryParameters": {"version": "v1"}, "HealthStatus": "ALL"})
        self.assertEqual(result.status, 200, result.body)
        self.assertEqual(result.headers.get("Content-Type"), JSON_11)
        self.assertEqual(self.ids(result.body["Instances"]), {"w1", "w2"})
        self.assertIsInstance(result.body["InstancesRevision"], int)

        no_ns = {"NamespaceName": "no-such-ns", "ServiceName": "web"}
        self.assertApiError(self.call("DiscoverInstances", no_ns), "NamespaceNotFound")
        no_service = {"NamespaceName": "shop", "ServiceName": "no-such-svc"}
        self.assertApiError(self.call("DiscoverInstances", no_service), "ServiceNotFound")
        invalid = [{"NamespaceName": "shop"},  # ServiceName missing
                   {"NamespaceName": "shop", "ServiceName": "web", "HealthStatus": "SOMETIMES"},
                   {"NamespaceName": "shop", "ServiceName": "web", "MaxResults": 0},
                   {"NamespaceName": "shop", "ServiceName": "web", "Unexpected": True}]
        for body in invalid:
            with self.subTest(body=body):
                self.assertApiError(self.call("DiscoverInstances", body), "InvalidInput")
        truncated = self.meshd.http("POST", "/", '{"NamespaceName": ', headers={
            "X-Amz-Target": f"{TARGET_PREFIX}.DiscoverInstances", "Content-Type": JSON_11})
        self.assertApiError(truncated, "SerializationException")
        self.assertApiError(self.call("NoSuchOperation", {}), "UnknownOperationException")

    def test_instances_revision_moves_with_every_change(self):
        def revision():
            body = {"NamespaceName": "shop", "ServiceName": "rev", "HealthStatus": "ALL"}
            return self.call_ok("DiscoverInstances", body)["InstancesRevision"]

        revisions = [revision()]
        register(self.meshd, self.rev_service, "r1", {"color": "red"})
        revisions.append(revision())
        self.call_ok("UpdateInstanceCustomHealthStatus", {"ServiceId": self.rev_service, "InstanceId": "r1",
                                                          "Status": "UNHEALTHY"})
        revisions.append(revision())
        self.call_ok("DeregisterInstance", {"ServiceId": self.rev_service, "InstanceId": "r1"})
        revisions.append(revision())
        self.assertEqual(revisions, sorted(set(revisions)), f"not strictly increasing: {revisions}")


# -- operations and tags -------------------------------------------------------------------------

class OperationsAndTagsTest(CloudMapTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.meshd
        cls.started = math.floor(time.time()) - 2
        cls.create_a = call_ok(m, "CreateHttpNamespace", {"Name": "ops-a"})["OperationId"]
        cls.ns_a = namespace_of(m, cls.create_a)
        cls.create_b = call_ok(m, "CreateHttpNamespace", {"Name": "ops-b", "Tags": [
            {"Key": "team", "Value": "blue"}]})["OperationId"]
        cls.ns_b = namespace_of(m, cls.create_b)
        update = {"Id": cls.ns_a, "Namespace": {"Description": "x"}}
        cls.update_a = call_ok(m, "UpdateHttpNamespace", update)["OperationId"]
        cls.svc = create_service(m, cls.ns_a, "tagged-svc", Tags=[{"Key": "tier", "Value": "web"}])
        cls.register_op = register(m, cls.svc, "i1", {"color": "red"})
        cls.all_ops = {cls.create_a, cls.create_b, cls.update_a, cls.register_op}
        cls.finished = math.ceil(time.time()) + 2

    def list_ops(self, *filters: dict) -> set:
        args = ("--filters", as_json(list(filters))) if filters else ()
        out = self.sd_ok("list-operations", *args)
        for summary in out["Operations"]:
            self.assertEqual(set(summary), {"Id", "Status"})
        return {summary["Id"] for summary in out["Operations"]}

    def tags(self, resource_arn: str) -> dict:
        return tag_map(self.sd_ok("list-tags-for-resource", "--resource-arn", resource_arn)["Tags"])

    def test_get_operation(self):
        self.assertOperation(self.register_op, "REGISTER_INSTANCE", {"INSTANCE": "i1", "SERVICE": self.svc})
        self.assertCliError(self.sd("get-operation", "--operation-id", "no-such-operation"),
                            "OperationNotFound", "GetOperation")
        self.assertApiError(self.call("GetOperation", {"OperationId": "no-such-operation"}),
                            "OperationNotFound")

    def test_list_operations_filters(self):
        self.assertLessEqual(self.all_ops, self.list_ops())
        self.assertEqual(self.list_ops({"Name": "TYPE", "Values": ["CREATE_NAMESPACE"], "Condition": "EQ"}),
                         {self.create_a, self.create_b})
        self.assertEqual(self.list_ops({"Name": "TYPE", "Values": ["REGISTER_INSTANCE", "UPDATE_NAMESPACE"],
                                        "Condition": "IN"}), {self.register_op, self.update_a})
        by_namespace = self.list_ops({"Name": "NAMESPACE_ID", "Values": [self.ns_a], "Condition": "EQ"})
        self.assertLessEqual({self.create_a, self.update_a}, by_namespace)
        self.assertNotIn(self.create_b, by_namespace)
        self.assertEqual(self.list_ops({"Name": "NAMESPACE_ID", "Values": [self.ns_a]},
                                       {"Name": "TYPE", "Values": ["CREATE_NAMESPACE"]}), {self.create_a})
        self.assertEqual(self.list_ops({"Name": "SERVICE_ID", "Values": [self.svc]}), {self.register_op})
        self.assertLessEqual(self.all_ops, self.list_ops({"Name": "STATUS", "Values": ["SUCCESS"]}))
        self.assertEqual(self.list_ops({"Name": "STATUS", "Values": ["FAIL"]}), set())
        window = [str(self.started), str(self.finished)]
        self.assertLessEqual(self.all_ops, self.list_ops({"Name": "UPDATE_DATE", "Values": window,
                                                          "Condition": "BETWEEN"}))
        long_ago = {"Name": "UPDATE_DATE", "Values": ["0", "1000"], "Condition": "BETWEEN"}
        self.assertEqual(self.list_ops(long_ago), set())
        first = self.sd_ok("list-operations", "--max-items", "1")
        self.assertEqual(len(first["Operations"]), 1)
        self.assertIn("NextToken", first)

    def test_namespace_tags(self):
        ns_arn = sd_arn("namespace", self.ns_b)
        self.assertEqual(self.tags(ns_arn), {"team": "blue"})  # given at creation
        self.assertIsNone(self.sd_ok("tag-resource", "--resource-arn", ns_arn, "--tags",
                                     "Key=env,Value=prod", "Key=team,Value=red"))
        self.assertEqual(self.tags(ns_arn), {"team": "red", "env": "prod"})
        self.assertIsNone(self.sd_ok("untag-resource", "--resource-arn", ns_arn,
                                     "--tag-keys", "team", "absent"))
        self.assertEqual(self.tags(ns_arn), {"env": "prod"})

    def test_service_tags(self):
        svc_arn = sd_arn("service", self.svc)
        self.sd_ok("tag-resource", "--resource-arn", svc_arn, "--tags", "Key=owner,Value=alice")
        self.assertEqual(self.tags(svc_arn), {"tier": "web", "owner": "alice"})
        self.sd_ok("untag-resource", "--resource-arn", svc_arn, "--tag-keys", "tier")
        self.assertEqual(self.call_ok("ListTagsForResource", {"ResourceARN": svc_arn})["Tags"],
                         [{"Key": "owner", "Value": "alice"}])

    def test_unknown_arn_is_resource_not_found(self):
        for resource_arn in (sd_arn("namespace", MISSING_NS), sd_arn("service", MISSING_SVC)):
            with self.subTest(arn=resource_arn):
                self.assertCliError(self.sd("list-tags-for-resource", "--resource-arn", resource_arn),
                                    "ResourceNotFoundException", "ListTagsForResource")
        missing = sd_arn("namespace", MISSING_NS)
        self.assertCliError(self.sd("tag-resource", "--resource-arn", missing, "--tags", "Key=a,Value=b"),
                            "ResourceNotFoundException", "TagResource")
        self.assertCliError(self.sd("untag-resource", "--resource-arn", missing, "--tag-keys", "a"),
                            "ResourceNotFoundException", "UntagResource")
        self.assertApiError(self.call("ListTagsForResource", {"ResourceARN": missing}),
                            "ResourceNotFoundException")

    def test_too_many_tags(self):
        ns_arn = sd_arn("namespace", self.ns_a)
        tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        self.assertApiError(self.call("TagResource", {"ResourceARN": ns_arn, "Tags": tags}),
                            "TooManyTagsException", exact_shape=False)
        self.assertEqual(self.call_ok("ListTagsForResource", {"ResourceARN": ns_arn})["Tags"], [])


# -- durability ----------------------------------------------------------------------------------

class DurabilityTest(CloudMapTestCase):
    """Everything written before a restart (SIGTERM, start on the same data dir) is still there after it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.meshd
        create = {"Name": "durable", "CreatorRequestId": "durable-creator",
                  "Tags": [{"Key": "team", "Value": "blue"}]}
        cls.create_op = call_ok(m, "CreateHttpNamespace", create)["OperationId"]
        cls.http_ns = namespace_of(m, cls.create_op)
        cls.dns_ns = create_namespace(m, "PrivateDns", "durable.internal",
                                      Properties={"DnsProperties": {"SOA": {"TTL": 42}}})
        cls.svc = create_service(m, cls.dns_ns, "keep", DnsConfig=dns_config("A", ttl=30),
                                 HealthCheckCustomConfig={"FailureThreshold": 1},
                                 Tags=[{"Key": "tier", "Value": "db"}])
        cls.register_op = register(m, cls.svc, "k1", {"AWS_INSTANCE_IPV4": "10.0.0.1", "color": "red"})
        register(m, cls.svc, "k2", {"AWS_INSTANCE_IPV4": "10.0.0.2", "AWS_INIT_HEALTH_STATUS": "UNHEALTHY"})
        call_ok(m, "UpdateInstanceCustomHealthStatus",
                {"ServiceId": cls.svc, "InstanceId": "k1", "Status": "UNHEALTHY"})
        cls.before = cls.snapshot()
        cls.stop_rc = m.restart()
        cls.after = cls.snapshot()  # before any test writes

    @classmethod
    def snapshot(cls) -> dict:
        m = cls.meshd
        return {
            "namespaces": call_ok(m, "ListNamespaces")["Namespaces"],
            "http_ns": call_ok(m, "GetNamespace", {"Id": cls.http_ns}),
            "dns_ns": call_ok(m, "GetNamespace", {"Id": cls.dns_ns}),
            "services": call_ok(m, "ListServices")["Services"],
            "service": call_ok(m, "GetService", {"Id": cls.svc}),
            "instances": call_ok(m, "ListInstances", {"ServiceId": cls.svc})["Instances"],
            "health": call_ok(m, "GetInstancesHealthStatus", {"ServiceId": cls.svc})["Status"],
            "operations": call_ok(m, "ListOperations")["Operations"],
            "ns_tags": call_ok(m, "ListTagsForResource", {"ResourceARN": sd_arn("namespace", cls.http_ns)}),
            "svc_tags": call_ok(m, "ListTagsForResource", {"ResourceARN": sd_arn("service", cls.svc)}),
            "discovered": call_ok(m, "DiscoverInstances", {"NamespaceName": "durable.internal",
                                                           "ServiceName": "keep", "HealthStatus": "ALL"}),
        }

    def test_restart_was_clean(self):
        self.assertEqual(self.stop_rc, 0, self.meshd.log_tail())

    def test_everything_survives_restart(self):
        self.assertEqual(self.after, self.before)

    def test_cli_sees_the_same_registry_after_restart(self):
        ns = self.sd_ok("get-namespace", "--id", self.dns_ns)["Namespace"]
        self.assertEqual((ns["Name"], ns["Type"], ns["ServiceCount"]), ("durable.internal", "DNS_PRIVATE", 1))
        self.assertEqual(ns["Properties"]["DnsProperties"]["SOA"], {"TTL": 42})
        svc = self.sd_ok("get-service", "--id", self.svc)["Service"]
        self.assertEqual(svc["DnsConfig"]["DnsRecords"], [{"Type": "A", "TTL": 30}])
        self.assertEqual(svc["InstanceCount"], 2)
        instance = self.sd_ok("get-instance", "--service-id", self.svc, "--instance-id", "k1")["Instance"]
        self.assertEqual(instance["Attributes"], {"AWS_INSTANCE_IPV4": "10.0.0.1", "color": "red"})
        self.assertEqual(self.sd_ok("get-instances-health-status", "--service-id", self.svc)["Status"],
                         {"k1": "UNHEALTHY", "k2": "UNHEALTHY"})
        self.assertEqual(tag_map(self.sd_ok("list-tags-for-resource", "--resource-arn",
                                            sd_arn("namespace", self.http_ns))["Tags"]), {"team": "blue"})
        self.assertOperation(self.register_op, "REGISTER_INSTANCE", {"INSTANCE": "k1", "SERVICE": self.svc})
        # The creator's retry is still recognised, and the registry still takes writes.
        again = self.sd_ok("create-http-namespace", "--name", "durable",
                           "--creator-request-id", "durable-creator")
        self.assertEqual(again["OperationId"], self.create_op)
        self.sd_ok("update-instance-custom-health-status", "--service-id", self.svc, "--instance-id", "k2",
                   "--status", "HEALTHY")
        self.assertEqual(self.call_ok("GetInstancesHealthStatus", {"ServiceId": self.svc})["Status"],
                         {"k1": "UNHEALTHY", "k2": "HEALTHY"})

    def test_cli_discovers_after_restart(self):
        instances = self.discover_ok("--namespace-name", "durable.internal", "--service-name", "keep",
                                     "--health-status", "ALL")
        self.assertEqual(self.ids(instances), {"k1", "k2"})


if __name__ == "__main__":
    unittest.main()
