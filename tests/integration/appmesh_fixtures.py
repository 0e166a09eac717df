"""Vocabulary shared by the App Mesh CLI tests: resource identities (names, ARNs, REST paths, CLI
options), spec builders, and a TestCase base with App Mesh assertions and a lifecycle mixin."""

import copy
import datetime
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from harness import ACCOUNT_ID, MeshdTestCase, api_path, arn, load_example

COLORS = {"red": 1, "orange": 2, "yellow": 3, "green": 4, "blue": 5, "purple": 6}
SETUPS = ("dns", "cloud")

# -- resource identities -------------------------------------------------------------------------

# Routes and gateway routes are named within a parent; everything else within the mesh.
PARENT_KIND = {"route": "virtualRouter", "gatewayRoute": "virtualGateway"}
LIST_KEY = {"mesh": "meshes", "virtualNode": "virtualNodes", "virtualService": "virtualServices",
            "virtualRouter": "virtualRouters", "route": "routes",
            "virtualGateway": "virtualGateways", "gatewayRoute": "gatewayRoutes"}


def kebab(camel: str) -> str:
    """"virtualNodeName" → "virtual-node-name"."""
    return re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), camel)


@dataclass(frozen=True)
class Resource:
    """Names one App Mesh resource: kind ("mesh", "virtualNode", ...), mesh, name and parent."""
    kind: str
    mesh: str
    name: Optional[str] = None
    parent: Optional[str] = None   # the virtual router of a route, the gateway of a gateway route

    @property
    def name_member(self) -> str:
        return f"{self.kind}Name"

    @property
    def arn(self) -> str:
        segments = ["mesh", self.mesh]
        if self.kind in PARENT_KIND:
            segments += [PARENT_KIND[self.kind], self.parent]
        if self.kind != "mesh":
            segments += [self.kind, self.name]
        return arn(*segments)

    def identity(self) -> dict:
        """The name members every output object carries."""
        fields = {"meshName": self.mesh}
        if self.kind in PARENT_KIND:
            fields[f"{PARENT_KIND[self.kind]}Name"] = self.parent
        if self.kind != "mesh":
            fields[self.name_member] = self.name
        return fields

    def path(self, **query) -> str:
        if self.kind == "mesh":
            return api_path(self.mesh, **query)
        return api_path(self.mesh, self.kind, self.name, self.parent, **query)

    def collection_path(self, **query) -> str:
        if self.kind == "mesh":
            return api_path(**query)
        return api_path(self.mesh, self.kind, parent=self.parent, **query)

    def create_body(self, spec: Optional[dict], **extra) -> dict:
        """The JSON body of a create: the resource's own name (the mesh and parent are in the path)."""
        if self.kind == "mesh":
            body = {"meshName": self.mesh, **extra}
        else:
            body = {self.name_member: self.name, **extra}
        if spec is not None:
            body["spec"] = spec
        return body

    def cli_args(self, verb: str) -> list:
        """`verb` is create/describe/update/delete/list; returns the command and its name options."""
        noun = kebab(self.kind) if verb != "list" else kebab(LIST_KEY[self.kind])
        args = [f"{verb}-{noun}"]
        if verb == "list" and self.kind == "mesh":
            return args
        args += ["--mesh-name", self.mesh]
        if self.kind in PARENT_KIND:
            args += [f"--{kebab(PARENT_KIND[self.kind])}-name", self.parent]
        if self.kind != "mesh" and verb != "list":
            args += [f"--{kebab(self.name_member)}", self.name]
        if self.kind != "mesh" or verb == "describe":
            # meshOwner is accepted wherever the API has it (every operation below a mesh, and
            # DescribeMesh); it names this account, so it changes nothing.
            args += ["--mesh-owner", ACCOUNT_ID]
        return args

    def operation(self, verb: str) -> str:
        """"describe" → "DescribeVirtualNode", as the CLI names it in error messages."""
        return verb.capitalize() + self.kind[0].upper() + self.kind[1:]


def mesh(name):
    return Resource("mesh", name)


def node(mesh_name, name):
    return Resource("virtualNode", mesh_name, name)


def service(mesh_name, name):
    return Resource("virtualService", mesh_name, name)


def router(mesh_name, name):
    return Resource("virtualRouter", mesh_name, name)


def route(mesh_name, router_name, name):
    return Resource("route", mesh_name, name, router_name)


def gateway(mesh_name, name):
    return Resource("virtualGateway", mesh_name, name)


def gateway_route(mesh_name, gateway_name, name):
    return Resource("gatewayRoute", mesh_name, name, gateway_name)


# -- specs ---------------------------------------------------------------------------------------

HEALTH_CHECK = {"protocol": "http", "path": "/ping", "healthyThreshold": 2, "unhealthyThreshold": 2,
                "intervalMillis": 5000, "timeoutMillis": 2000}


def node_spec(hostname="app.default.svc.cluster.local", port=9080, **dns_extra) -> dict:
    return {"listeners": [{"portMapping": {"port": port, "protocol": "http"},
                           "healthCheck": dict(HEALTH_CHECK)}],
            "serviceDiscovery": {"dns": {"hostname": hostname, **dns_extra}}}


def listener_spec(port=9080) -> dict:
    """A virtual router's or virtual gateway's spec: one http listener."""
    return {"listeners": [{"portMapping": {"port": port, "protocol": "http"}}]}


def route_spec(*weighted_nodes, prefix="/") -> dict:
    targets = [{"virtualNode": name, "weight": weight} for name, weight in weighted_nodes]
    return {"httpRoute": {"match": {"prefix": prefix}, "action": {"weightedTargets": targets}}}


def gateway_route_spec(service_name, prefix) -> dict:
    target = {"virtualService": {"virtualServiceName": service_name}}
    return {"httpRoute": {"match": {"prefix": prefix}, "action": {"target": target}}}


def service_spec(node_name=None, router_name=None) -> dict:
    if node_name:
        return {"provider": {"virtualNode": {"virtualNodeName": node_name}}}
    if router_name:
        return {"provider": {"virtualRouter": {"virtualRouterName": router_name}}}
    return {}


def tag_list(tags: dict) -> list:
    return [{"key": k, "value": v} for k, v in tags.items()]


def as_json(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def file_uri(path: Path) -> str:
    return "file://" + str(path)


def timestamp(value) -> datetime.datetime:
    """The CLI prints ISO 8601; raw rest-json carries epoch seconds."""
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return datetime.datetime.fromisoformat(value)


def spec_mismatch(sent, got, path="spec") -> Optional[str]:
    """Where `got` lacks or changes something that was `sent` (None if it has all of it). The server
    may add defaults, so extra members in `got` are fine; lists must keep length and order."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return f"{path}: sent an object, got {got!r}"
        for key, value in sent.items():
            if key not in got:
                return f"{path}.{key}: missing"
            mismatch = spec_mismatch(value, got[key], f"{path}.{key}")
            if mismatch:
                return mismatch
        return None
    if isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            return f"{path}: sent {sent!r}, got {got!r}"
        for i, (s, g) in enumerate(zip(sent, got)):
            mismatch = spec_mismatch(s, g, f"{path}[{i}]")
            if mismatch:
                return mismatch
        return None
    return None if sent == got and type(sent) is type(got) else f"{path}: sent {sent!r}, got {got!r}"


def create_raw(meshd, resource: Resource, spec: Optional[dict] = None, **extra) -> dict:
    """Creates over raw HTTP (fast setup, usable from setUpClass); returns the created object."""
    result = meshd.http("PUT", resource.collection_path(), resource.create_body(spec, **extra))
    if result.status != 200:
        raise AssertionError(f"setup: creating {resource} failed: {result.status} {result.body}")
    return result.body


# -- base test case ------------------------------------------------------------------------------

class AppMeshTestCase(MeshdTestCase):

    def cli(self, verb: str, resource: Resource, *extra: str):
        return self.appmesh(*resource.cli_args(verb), *extra)

    def cli_ok(self, verb: str, resource: Resource, *extra: str):
        return self.appmesh_ok(*resource.cli_args(verb), *extra)

    def create(self, resource: Resource, spec: Optional[dict] = None, **extra) -> dict:
        return create_raw(self.meshd, resource, spec, **extra)

    def describe_raw(self, resource: Resource) -> dict:
        return self.assertHttpOk(self.http("GET", resource.path()))

    def delete_raw(self, resource: Resource) -> None:
        self.assertHttpOk(self.http("DELETE", resource.path()))

    def tags_of(self, resource_arn: str) -> dict:
        out = self.appmesh_ok("list-tags-for-resource", "--resource-arn", resource_arn)
        tags = out["tags"]
        self.assertEqual(len(tags), len({t["key"] for t in tags}), f"duplicate keys: {tags}")
        return {t["key"]: t["value"] for t in tags}

    def assertResource(self, data: dict, resource: Resource, version: Optional[int],
                       status: str = "ACTIVE"):
        """The output object shape: names, spec, metadata {arn, uid, version, createdAt,
        lastUpdatedAt, meshOwner, resourceOwner} and status."""
        for member, value in resource.identity().items():
            self.assertEqual(data.get(member), value, f"{member} in {data}")
        self.assertIsInstance(data.get("spec"), dict, data)
        metadata = data.get("metadata") or {}
        self.assertEqual(metadata.get("arn"), resource.arn, data)
        self.assertEqual(metadata.get("meshOwner"), ACCOUNT_ID, data)
        self.assertEqual(metadata.get("resourceOwner"), ACCOUNT_ID, data)
        self.assertIsInstance(metadata.get("uid"), str, data)
        self.assertTrue(metadata["uid"], data)
        if version is not None:
            self.assertEqual(metadata.get("version"), version, data)
        self.assertLessEqual(timestamp(metadata["createdAt"]), timestamp(metadata["lastUpdatedAt"]))
        self.assertEqual((data.get("status") or {}).get("status"), status, data)

    def assertRef(self, ref: dict, resource: Resource, version: int):
        """A list entry: names, arn, version, owners and both timestamps."""
        for member, value in resource.identity().items():
            self.assertEqual(ref.get(member), value, ref)
        self.assertEqual(ref.get("arn"), resource.arn, ref)
        self.assertEqual(ref.get("version"), version, ref)
        self.assertEqual(ref.get("meshOwner"), ACCOUNT_ID, ref)
        self.assertEqual(ref.get("resourceOwner"), ACCOUNT_ID, ref)
        self.assertLessEqual(timestamp(ref["createdAt"]), timestamp(ref["lastUpdatedAt"]))

    def assertSpecMatches(self, sent: dict, got: dict):
        mismatch = spec_mismatch(sent, got)
        self.assertIsNone(mismatch, f"{mismatch}\nsent: {sent}\ngot:  {got}")

    def assertStillActive(self, resource: Resource):
        self.assertEqual(self.describe_raw(resource)["status"]["status"], "ACTIVE")


class LifecycleTests:
    """create → describe → update → list → delete → describe/update/delete again, through the CLI.

    Mixed into a test class that sets `lifecycle_resource`, `spec` and `updated_spec` and whose
    setUpClass creates whatever the resource needs (mesh, parent, referenced resources)."""

    lifecycle_resource: Resource
    spec: dict
    updated_spec: dict

    def test_lifecycle_through_cli(self):
        res = self.lifecycle_resource
        created = self.create_with_tags_through_cli(res)
        self.assertEqual(self.cli_ok("describe", res)[res.kind], created)
        updated = self.update_through_cli(res, created)
        self.assert_listed(res, version=2)

        deleted = self.cli_ok("delete", res)[res.kind]
        self.assertResource(deleted, res, version=None, status="DELETED")
        self.assertEqual(deleted["metadata"]["uid"], updated["metadata"]["uid"])

        for verb, extra in (("describe", ()), ("delete", ()), ("update", ("--spec", as_json(self.spec)))):
            self.assertCliError(self.cli(verb, res, *extra), "NotFoundException", res.operation(verb))
        listed = self.cli_ok("list", res)[LIST_KEY[res.kind]]
        self.assertNotIn(res.arn, [ref["arn"] for ref in listed])

    def create_with_tags_through_cli(self, res: Resource) -> dict:
        tags = {"team": "colors", "stage": "test"}
        created = self.cli_ok("create", res, "--spec", as_json(self.spec),
                              "--tags", as_json(tag_list(tags)))[res.kind]
        self.assertResource(created, res, version=1)
        self.assertSpecMatches(self.spec, created["spec"])
        self.assertEqual(self.tags_of(res.arn), tags)
        return created

    def update_through_cli(self, res: Resource, created: dict) -> dict:
        updated = self.cli_ok("update", res, "--spec", as_json(self.updated_spec))[res.kind]
        self.assertResource(updated, res, version=2)
        self.assertSpecMatches(self.updated_spec, updated["spec"])
        before, after = created["metadata"], updated["metadata"]
        self.assertEqual(after["uid"], before["uid"])
        self.assertEqual(after["createdAt"], before["createdAt"])
        self.assertGreater(timestamp(after["lastUpdatedAt"]), timestamp(before["lastUpdatedAt"]))
        return updated

    def assert_listed(self, res: Resource, version: int):
        listed = self.cli_ok("list", res)[LIST_KEY[res.kind]]
        refs = [ref for ref in listed if ref.get("arn") == res.arn]
        self.assertEqual(len(refs), 1, listed)
        self.assertRef(refs[0], res, version)


# -- the walkthrough's files and topology --------------------------------------------------------

def without_ip_preference(spec: dict) -> dict:
    """A node spec as the walkthrough's stacks created it, before the user's files set a preference."""
    spec = copy.deepcopy(spec)
    for discovery in spec.get("serviceDiscovery", {}).values():
        discovery.pop("ipPreference", None)
    return spec


def build_walkthrough_topology(meshd, setup: str) -> list:
    """Creates one setup's mesh, nodes, services, gateway and gateway routes over raw HTTP from the
    example files; returns every resource created."""
    mesh_file = load_example(setup, "mesh")
    mesh_name = mesh_file["meshName"]
    created = [mesh(mesh_name)]
    create_raw(meshd, created[0], mesh_file["spec"])
    vg = gateway(mesh_name, "colorgateway-vg")
    create_raw(meshd, vg, listener_spec(9080))
    created.append(vg)
    for color, n in COLORS.items():
        vn_file = load_example(setup, f"{color}-vn")
        vn = node(mesh_name, vn_file["virtualNodeName"])
        vs = service(mesh_name, f"colorteller-{n}.default.svc.cluster.local")
        gr = gateway_route(mesh_name, vg.name, f"colorgateway-route-{color}")
        create_raw(meshd, vn, vn_file["spec"])
        create_raw(meshd, vs, service_spec(node_name=vn.name))
        create_raw(meshd, gr, gateway_route_spec(vs.name, f"/{color}"))
        created += [vn, vs, gr]
    return created
