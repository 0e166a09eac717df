"""meshd's App Mesh API, driven through the real AWS CLI v2 (and raw HTTP where the CLI would reject a
request client-side or cannot express it).

One meshd per test class. Every one of the 38 operations is exercised: the 35 create/describe/update/
list/delete operations by each kind's lifecycle test, the three tag operations by TagsTest.
"""

import json
import tempfile
import unittest
from pathlib import Path

from appmesh_fixtures import (COLORS, HEALTH_CHECK, SETUPS, AppMeshTestCase, LifecycleTests, Resource,
                              as_json, build_walkthrough_topology, create_raw, file_uri, gateway,
                              gateway_route, gateway_route_spec, listener_spec, mesh, node, node_spec,
                              route, route_spec, router, service, service_spec, tag_list,
                              without_ip_preference)
from harness import CLI_OK, api_path, example_file, load_example, tags_path


# -- meshes --------------------------------------------------------------------------------------

class MeshTest(LifecycleTests, AppMeshTestCase):
    lifecycle_resource = mesh("lifecycle")
    spec = {"egressFilter": {"type": "ALLOW_ALL"}, "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}
    updated_spec = {"egressFilter": {"type": "DROP_ALL"},
                    "serviceDiscovery": {"ipPreference": "IPv6_PREFERRED"}}

    def test_describe_missing_mesh_is_not_found(self):
        self.assertCliError(self.appmesh("describe-mesh", "--mesh-name", "no-such-mesh"),
                            "NotFoundException", "DescribeMesh")

    def test_second_create_of_same_name_conflicts(self):
        self.appmesh_ok("create-mesh", "--mesh-name", "twice")
        self.assertCliError(self.appmesh("create-mesh", "--mesh-name", "twice"),
                            "ConflictException", "CreateMesh")

    def test_client_token_makes_create_idempotent(self):
        args = ("create-mesh", "--mesh-name", "tokened", "--client-token", "token-1")
        first = self.appmesh_ok(*args)["mesh"]
        second = self.appmesh_ok(*args)["mesh"]
        self.assertEqual(second["metadata"]["uid"], first["metadata"]["uid"])
        self.assertEqual(second["metadata"]["version"], 1)
        # The same token for a different request is a conflict, not a replay.
        self.assertCliError(self.appmesh(*args, "--spec", as_json({"egressFilter": {"type": "ALLOW_ALL"}})),
                            "ConflictException", "CreateMesh")

    def test_recreated_mesh_is_a_new_resource(self):
        first = self.appmesh_ok("create-mesh", "--mesh-name", "reborn")["mesh"]
        self.appmesh_ok("delete-mesh", "--mesh-name", "reborn")
        second = self.appmesh_ok("create-mesh", "--mesh-name", "reborn")["mesh"]
        self.assertEqual(second["metadata"]["version"], 1)
        self.assertNotEqual(second["metadata"]["uid"], first["metadata"]["uid"])

    def test_invalid_ip_preference_is_bad_request(self):
        bad_spec = {"serviceDiscovery": {"ipPreference": "ipv6_only"}}  # enums are case-sensitive
        self.assertCliError(self.appmesh("create-mesh", "--mesh-name", "bad-pref", "--spec", as_json(bad_spec)),
                            "BadRequestException", "CreateMesh")
        result = self.http("PUT", api_path(), {"meshName": "bad-pref", "spec": bad_spec})
        self.assertHttpError(result, 400, "BadRequestException", mentions="ipPreference")
        self.assertCliError(self.appmesh("describe-mesh", "--mesh-name", "bad-pref"),
                            "NotFoundException", "DescribeMesh")

    def test_unknown_fields_are_bad_request(self):
        top = self.http("PUT", api_path(), {"meshName": "extra", "spec": {}, "unexpectedTopLevel": 1})
        self.assertHttpError(top, 400, "BadRequestException", mentions="unexpectedTopLevel")
        nested = self.http("PUT", api_path(), {"meshName": "extra",
                                               "spec": {"egressFilter": {"type": "ALLOW_ALL",
                                                                         "unexpectedNested": True}}})
        self.assertHttpError(nested, 400, "BadRequestException", mentions="unexpectedNested")

    def test_malformed_json_is_bad_request(self):
        result = self.http("PUT", api_path(), '{"meshName": "broken", "spec": {')
        self.assertHttpError(result, 400, "BadRequestException")

    def test_delete_mesh_with_resources_is_in_use(self):
        busy = mesh("busy")
        self.create(busy)
        self.create(node("busy", "tenant"), node_spec())
        self.assertCliError(self.appmesh("delete-mesh", "--mesh-name", "busy"),
                            "ResourceInUseException", "DeleteMesh")
        self.assertStillActive(busy)
        self.delete_raw(node("busy", "tenant"))
        self.appmesh_ok("delete-mesh", "--mesh-name", "busy")


# -- virtual nodes -------------------------------------------------------------------------------

class VirtualNodeTest(LifecycleTests, AppMeshTestCase):
    MESH = "nodes"
    lifecycle_resource = node(MESH, "lifecycle-vn")
    spec = node_spec("colorteller-red.default.svc.cluster.local.dns")
    updated_spec = node_spec("colorteller-red.default.svc.cluster.local.dns", ipPreference="IPv6_PREFERRED")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))

    def create_node_cli(self, name: str, spec: dict, mesh_name: str = MESH):
        return self.appmesh("create-virtual-node", "--mesh-name", mesh_name,
                            "--virtual-node-name", name, "--spec", as_json(spec))

    def create_node_http(self, name: str, spec: dict):
        return self.http("PUT", api_path(self.MESH, "virtualNode"),
                         {"virtualNodeName": name, "spec": spec})

    def test_second_create_of_same_name_conflicts(self):
        self.create(node(self.MESH, "twice-vn"), node_spec())
        self.assertCliError(self.create_node_cli("twice-vn", node_spec()),
                            "ConflictException", "CreateVirtualNode")

    def test_create_in_missing_mesh_is_not_found(self):
        self.assertCliError(self.create_node_cli("orphan", node_spec(), mesh_name="no-such-mesh"),
                            "NotFoundException", "CreateVirtualNode")

    def test_health_check_interval_below_minimum(self):
        spec = node_spec()
        spec["listeners"][0]["healthCheck"]["intervalMillis"] = 1000
        # botocore checks minimums itself and never sends the request...
        self.assertCliParamValidation(self.create_node_cli("fast-checks", spec), "intervalMillis")
        # ...so the server's own check is exercised over raw HTTP.
        self.assertHttpError(self.create_node_http("fast-checks", spec), 400,
                             "BadRequestException", mentions="intervalMillis")

    def test_port_above_maximum_is_bad_request(self):
        spec = node_spec(port=70000)  # botocore does not check maximums: the server must
        self.assertCliError(self.create_node_cli("big-port", spec), "BadRequestException",
                            "CreateVirtualNode")
        self.assertHttpError(self.create_node_http("big-port", spec), 400,
                             "BadRequestException", mentions="port")

    def test_invalid_ip_preference_is_bad_request(self):
        spec = node_spec(ipPreference="ipv6_only")
        self.assertCliError(self.create_node_cli("bad-pref", spec), "BadRequestException",
                            "CreateVirtualNode")
        self.assertHttpError(self.create_node_http("bad-pref", spec), 400,
                             "BadRequestException", mentions="ipPreference")

    def test_unknown_nested_field_is_bad_request(self):
        spec = node_spec()
        spec["listeners"][0]["portMapping"]["unexpectedPortField"] = "x"
        self.assertHttpError(self.create_node_http("extra-field", spec), 400,
                             "BadRequestException", mentions="unexpectedPortField")

    def test_update_of_other_field_keeps_identity(self):
        res = node(self.MESH, "retyped")
        created = self.create(res, node_spec())
        updated = self.cli_ok("update", res, "--spec", as_json(node_spec(port=8080)))["virtualNode"]
        self.assertEqual(updated["metadata"]["uid"], created["metadata"]["uid"])
        self.assertEqual(updated["spec"]["listeners"][0]["portMapping"]["port"], 8080)


class PaginationTest(AppMeshTestCase):
    MESH = "paged"
    NAMES = [f"page-vn-{i}" for i in range(5)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))
        for name in cls.NAMES:
            create_raw(cls.meshd, node(cls.MESH, name), node_spec())

    def list_cli(self, *extra):
        return self.appmesh_ok("list-virtual-nodes", "--mesh-name", self.MESH, *extra)

    def test_cli_follows_next_token(self):
        out = self.list_cli("--page-size", "2")
        self.assertCountEqual([ref["virtualNodeName"] for ref in out["virtualNodes"]], self.NAMES)
        self.assertNotIn("NextToken", out)

    def test_cli_max_items_returns_a_token_to_resume(self):
        first = self.list_cli("--max-items", "2")
        self.assertEqual(len(first["virtualNodes"]), 2)
        self.assertIn("NextToken", first)
        rest = self.list_cli("--max-items", "10", "--starting-token", first["NextToken"])
        names = [ref["virtualNodeName"] for ref in first["virtualNodes"] + rest["virtualNodes"]]
        self.assertCountEqual(names, self.NAMES)

    def test_raw_limit_pages_through_everything_once(self):
        names, page_sizes, token = [], [], None
        for _ in range(10):  # bounded: a server that never stops paging fails, not hangs
            query = {"limit": 2, **({"nextToken": token} if token else {})}
            page = self.assertHttpOk(self.http("GET", api_path(self.MESH, "virtualNode", **query)))
            names += [ref["virtualNodeName"] for ref in page["virtualNodes"]]
            page_sizes.append(len(page["virtualNodes"]))
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(page_sizes, [2, 2, 1])
        self.assertCountEqual(names, self.NAMES)

    def test_limit_out_of_range_is_bad_request(self):
        for limit in (0, 101):
            with self.subTest(limit=limit):
                result = self.http("GET", api_path(self.MESH, "virtualNode", limit=limit))
                self.assertHttpError(result, 400, "BadRequestException", mentions="limit")


# -- virtual services ----------------------------------------------------------------------------

class VirtualServiceTest(LifecycleTests, AppMeshTestCase):
    MESH = "services"
    lifecycle_resource = service(MESH, "lifecycle.default.svc.cluster.local")
    spec = service_spec(node_name="provider-vn")
    updated_spec = service_spec(router_name="provider-vr")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))
        create_raw(cls.meshd, node(cls.MESH, "provider-vn"), node_spec())
        create_raw(cls.meshd, router(cls.MESH, "provider-vr"), listener_spec())

    def test_missing_provider_node_is_not_found(self):
        res = service(self.MESH, "dangling.default.svc.cluster.local")
        self.assertCliError(self.cli("create", res, "--spec", as_json(service_spec(node_name="ghost-vn"))),
                            "NotFoundException", "CreateVirtualService")

    def test_update_to_missing_provider_is_not_found(self):
        res = service(self.MESH, "repointed.default.svc.cluster.local")
        self.create(res, service_spec(node_name="provider-vn"))
        self.assertCliError(self.cli("update", res, "--spec", as_json(service_spec(node_name="ghost-vn"))),
                            "NotFoundException", "UpdateVirtualService")

    def test_delete_provider_node_is_in_use(self):
        provider = node(self.MESH, "busy-provider-vn")
        svc = service(self.MESH, "busy.default.svc.cluster.local")
        self.create(provider, node_spec())
        self.create(svc, service_spec(node_name=provider.name))
        self.assertCliError(self.cli("delete", provider), "ResourceInUseException", "DeleteVirtualNode")
        self.assertStillActive(provider)
        self.delete_raw(svc)
        self.cli_ok("delete", provider)


# -- virtual routers and routes ------------------------------------------------------------------

class VirtualRouterTest(LifecycleTests, AppMeshTestCase):
    MESH = "routers"
    lifecycle_resource = router(MESH, "lifecycle-vr")
    spec = listener_spec(9080)
    updated_spec = listener_spec(8080)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))

    def test_delete_router_with_routes_is_in_use(self):
        busy = router(self.MESH, "busy-vr")
        its_route = route(self.MESH, busy.name, "only-route")
        self.create(busy, listener_spec())
        self.create(node(self.MESH, "busy-target"), node_spec())
        self.create(its_route, route_spec(("busy-target", 1)))
        self.assertCliError(self.cli("delete", busy), "ResourceInUseException", "DeleteVirtualRouter")
        self.assertStillActive(busy)
        self.delete_raw(its_route)
        self.cli_ok("delete", busy)


class RouteTest(LifecycleTests, AppMeshTestCase):
    MESH = "routes"
    ROUTER = "colors-vr"
    lifecycle_resource = route(MESH, ROUTER, "lifecycle-route")
    spec = route_spec(("target-a", 100))
    updated_spec = route_spec(("target-a", 50), ("target-b", 50), prefix="/split")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))
        create_raw(cls.meshd, router(cls.MESH, cls.ROUTER), listener_spec())
        for name in ("target-a", "target-b"):
            create_raw(cls.meshd, node(cls.MESH, name), node_spec())

    def test_weighted_target_to_missing_node_is_not_found(self):
        res = route(self.MESH, self.ROUTER, "to-nowhere")
        self.assertCliError(self.cli("create", res, "--spec", as_json(route_spec(("ghost-vn", 1)))),
                            "NotFoundException", "CreateRoute")

    def test_route_in_missing_router_is_not_found(self):
        res = route(self.MESH, "no-such-vr", "stray")
        self.assertCliError(self.cli("create", res, "--spec", as_json(route_spec(("target-a", 1)))),
                            "NotFoundException", "CreateRoute")

    def test_delete_route_target_node_is_in_use(self):
        target = node(self.MESH, "busy-target-vn")
        its_route = route(self.MESH, self.ROUTER, "to-busy")
        self.create(target, node_spec())
        self.create(its_route, route_spec((target.name, 1), prefix="/busy"))
        self.assertCliError(self.cli("delete", target), "ResourceInUseException", "DeleteVirtualNode")
        self.assertStillActive(target)
        self.delete_raw(its_route)
        self.cli_ok("delete", target)


# -- virtual gateways and gateway routes ---------------------------------------------------------

class VirtualGatewayTest(LifecycleTests, AppMeshTestCase):
    MESH = "gateways"
    lifecycle_resource = gateway(MESH, "colorgateway-vg")
    spec = listener_spec(9080)
    updated_spec = listener_spec(8080)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))

    def test_delete_gateway_with_gateway_routes_is_in_use(self):
        busy = gateway(self.MESH, "busy-vg")
        its_route = gateway_route(self.MESH, busy.name, "only-gr")
        self.create(node(self.MESH, "backend-vn"), node_spec())
        self.create(service(self.MESH, "backend.svc"), service_spec(node_name="backend-vn"))
        self.create(busy, listener_spec())
        self.create(its_route, gateway_route_spec("backend.svc", "/"))
        self.assertCliError(self.cli("delete", busy), "ResourceInUseException", "DeleteVirtualGateway")
        self.assertStillActive(busy)
        self.delete_raw(its_route)
        self.cli_ok("delete", busy)


class GatewayRouteTest(LifecycleTests, AppMeshTestCase):
    MESH = "gateway-routes"
    GATEWAY = "colorgateway-vg"
    lifecycle_resource = gateway_route(MESH, GATEWAY, "colorgateway-route-red")
    spec = gateway_route_spec("colorteller-1.default.svc.cluster.local", "/red")
    updated_spec = gateway_route_spec("colorteller-2.default.svc.cluster.local", "/red")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))
        create_raw(cls.meshd, gateway(cls.MESH, cls.GATEWAY), listener_spec())
        for color, n in (("red", 1), ("orange", 2)):
            create_raw(cls.meshd, node(cls.MESH, f"colorteller-{color}-vn"), node_spec())
            create_raw(cls.meshd, service(cls.MESH, f"colorteller-{n}.default.svc.cluster.local"),
                       service_spec(node_name=f"colorteller-{color}-vn"))

    def test_target_missing_virtual_service_is_not_found(self):
        res = gateway_route(self.MESH, self.GATEWAY, "to-nowhere")
        spec = gateway_route_spec("ghost.default.svc.cluster.local", "/ghost")
        self.assertCliError(self.cli("create", res, "--spec", as_json(spec)),
                            "NotFoundException", "CreateGatewayRoute")

    def test_delete_targeted_virtual_service_is_in_use(self):
        target = service(self.MESH, "busy.default.svc.cluster.local")
        its_route = gateway_route(self.MESH, self.GATEWAY, "to-busy")
        self.create(target, service_spec(node_name="colorteller-red-vn"))
        self.create(its_route, gateway_route_spec(target.name, "/busy"))
        self.assertCliError(self.cli("delete", target), "ResourceInUseException", "DeleteVirtualService")
        self.assertStillActive(target)
        self.delete_raw(its_route)
        self.cli_ok("delete", target)


# -- tags ----------------------------------------------------------------------------------------

class TagsTest(AppMeshTestCase):
    MESH = "tagged"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_raw(cls.meshd, mesh(cls.MESH))

    def tag(self, resource_arn: str, tags: dict):
        return self.appmesh("tag-resource", "--resource-arn", resource_arn, "--tags", as_json(tag_list(tags)))

    def test_create_with_tags_then_tag_and_untag(self):
        res = mesh("tag-cycle")
        self.appmesh_ok("create-mesh", "--mesh-name", res.mesh,
                        "--tags", as_json(tag_list({"env": "test", "owner": "me"})))
        self.assertEqual(self.tags_of(res.arn), {"env": "test", "owner": "me"})

        # An existing key gets the new value; it is not duplicated.
        self.assertEqual(self.tag(res.arn, {"env": "prod", "new": "1"}).rc, CLI_OK)
        self.assertEqual(self.tags_of(res.arn), {"env": "prod", "owner": "me", "new": "1"})

        self.appmesh_ok("untag-resource", "--resource-arn", res.arn, "--tag-keys", "owner", "new")
        self.assertEqual(self.tags_of(res.arn), {"env": "prod"})

    def test_tags_on_a_nested_resource(self):
        vn = node(self.MESH, "tagged-vn")
        self.create(vn, node_spec())
        self.assertEqual(self.tag(vn.arn, {"color": "red"}).rc, CLI_OK)
        listed = self.assertHttpOk(self.http("GET", tags_path("tags", vn.arn)))
        self.assertEqual(listed["tags"], [{"key": "color", "value": "red"}])

    def test_more_than_fifty_tags_is_too_many(self):
        res = mesh("crowded")
        thirty = {f"k{i}": "v" for i in range(30)}
        self.create(res, None, tags=tag_list(thirty))
        # 30 + 21 = 51: each request is within the list limit, the total is not.
        self.assertCliError(self.tag(res.arn, {f"x{i}": "v" for i in range(21)}),
                            "TooManyTagsException", "TagResource")
        self.assertEqual(len(self.tags_of(res.arn)), 30)
        self.assertEqual(self.tag(res.arn, {f"x{i}": "v" for i in range(20)}).rc, CLI_OK)  # exactly 50
        self.assertEqual(len(self.tags_of(res.arn)), 50)

    def test_fifty_one_tags_in_one_request_is_rejected(self):
        fifty_one = tag_list({f"k{i}": "v" for i in range(51)})
        result = self.http("PUT", api_path(), {"meshName": "overfull", "tags": fifty_one})
        # The model caps TagList at 50, so this may be reported as either error; both are 400.
        self.assertEqual(result.status, 400, result.body)
        self.assertIn((result.headers.get("x-amzn-ErrorType") or "").split(":")[0],
                      ("TooManyTagsException", "BadRequestException"))
        self.assertEqual(self.http("GET", api_path("overfull")).status, 404)

    def test_unknown_arn_is_not_found(self):
        ghost = mesh("no-such-mesh").arn
        self.assertCliError(self.appmesh("list-tags-for-resource", "--resource-arn", ghost),
                            "NotFoundException", "ListTagsForResource")
        self.assertCliError(self.tag(ghost, {"a": "b"}), "NotFoundException", "TagResource")
        self.assertCliError(self.appmesh("untag-resource", "--resource-arn", ghost, "--tag-keys", "a"),
                            "NotFoundException", "UntagResource")


# -- quotas --------------------------------------------------------------------------------------

class QuotaTest(AppMeshTestCase):
    quotas = {"meshes": 2, "virtualNodes": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in ("quota-a", "quota-b"):
            create_raw(cls.meshd, mesh(name))

    def test_third_mesh_exceeds_quota(self):
        self.assertCliError(self.appmesh("create-mesh", "--mesh-name", "quota-c"),
                            "LimitExceededException", "CreateMesh")
        self.assertHttpError(self.http("PUT", api_path(), {"meshName": "quota-c"}),
                             400, "LimitExceededException")

    def test_virtual_node_quota_is_per_mesh(self):
        for name in ("vn-1", "vn-2"):
            self.create(node("quota-a", name), node_spec())
        self.assertCliError(self.appmesh("create-virtual-node", "--mesh-name", "quota-a",
                                         "--virtual-node-name", "vn-3", "--spec", as_json(node_spec())),
                            "LimitExceededException", "CreateVirtualNode")
        self.create(node("quota-b", "vn-1"), node_spec())  # another mesh has its own allowance


# -- the walkthrough's files --------------------------------------------------------------------

class ExampleFilesTest(unittest.TestCase):
    """The example input files say what walkthrough-topology.md says (no meshd needed)."""

    def test_mesh_files(self):
        for setup in SETUPS:
            self.assertEqual(load_example(setup, "mesh"), {
                "meshName": f"appmesh-ipv6-{setup}",
                "spec": {"egressFilter": {"type": "ALLOW_ALL"},
                         "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}})

    def test_node_files(self):
        for setup in SETUPS:
            for color in COLORS:
                with self.subTest(setup=setup, color=color):
                    vn = load_example(setup, f"{color}-vn")
                    self.assertEqual(vn["meshName"], f"appmesh-ipv6-{setup}")
                    self.assertEqual(vn["virtualNodeName"], f"colorteller-{color}-vn")
                    self.assertEqual(vn["spec"]["listeners"], [
                        {"portMapping": {"port": 9080, "protocol": "http"}, "healthCheck": HEALTH_CHECK}])
                    self.assertEqual(vn["spec"]["serviceDiscovery"], self.expected_discovery(setup, color))

    @staticmethod
    def expected_discovery(setup: str, color: str) -> dict:
        if setup == "dns":
            return {"dns": {"hostname": f"colorteller-{color}.default.svc.cluster.local.dns"}}
        return {"awsCloudMap": {"namespaceName": "default.svc.cluster.local.cloud",
                                "serviceName": f"colorteller-{color}"}}


class WalkthroughFilesTest(AppMeshTestCase):
    """The walkthrough's update-mesh.sh steps: the files applied unchanged with --cli-input-json."""

    def test_dns_setup(self):
        self.apply_setup("dns")

    def test_cloud_setup(self):
        self.apply_setup("cloud")

    def apply_setup(self, setup: str):
        mesh_name = load_example(setup, "mesh")["meshName"]
        self.appmesh_ok("create-mesh", "--mesh-name", mesh_name)
        for color in COLORS:
            vn_file = load_example(setup, f"{color}-vn")
            self.create(node(mesh_name, vn_file["virtualNodeName"]), without_ip_preference(vn_file["spec"]))

        self.apply_mesh_file(example_file(setup, "mesh"), expected_version=2)   # update-mesh.sh mesh
        for color in COLORS:                                                     # update-mesh.sh all-vn
            self.apply_node_file(example_file(setup, f"{color}-vn"), expected_version=2)
        self.apply_step_seven_edits(setup)

    def apply_step_seven_edits(self, setup: str):
        """Steps 6 and 7 as a user does them: edit mesh.json and red-vn.json, apply each again."""
        mesh_file, red_file = load_example(setup, "mesh"), load_example(setup, "red-vn")
        mesh_file["spec"]["serviceDiscovery"]["ipPreference"] = "IPv6_ONLY"
        for discovery in red_file["spec"]["serviceDiscovery"].values():
            discovery["ipPreference"] = "IPv4_PREFERRED"
        with tempfile.TemporaryDirectory(prefix="meshd-walkthrough-") as tmp:
            edited_mesh, edited_red = Path(tmp, "mesh.json"), Path(tmp, "red-vn.json")
            edited_mesh.write_text(json.dumps(mesh_file))
            edited_red.write_text(json.dumps(red_file))
            self.apply_mesh_file(edited_mesh, expected_version=3)
            self.apply_node_file(edited_red, expected_version=3)
        described = self.appmesh_ok("describe-virtual-node", "--mesh-name", red_file["meshName"],
                                    "--virtual-node-name", red_file["virtualNodeName"])["virtualNode"]
        self.assertSpecMatches(red_file["spec"], described["spec"])

    def apply_mesh_file(self, path: Path, expected_version: int):
        sent = json.loads(path.read_text())
        out = self.appmesh_ok("update-mesh", "--cli-input-json", file_uri(path))["mesh"]
        self.assertResource(out, mesh(sent["meshName"]), version=expected_version)
        self.assertSpecMatches(sent["spec"], out["spec"])

    def apply_node_file(self, path: Path, expected_version: int):
        sent = json.loads(path.read_text())
        out = self.appmesh_ok("update-virtual-node", "--cli-input-json", file_uri(path))["virtualNode"]
        self.assertResource(out, node(sent["meshName"], sent["virtualNodeName"]), version=expected_version)
        self.assertSpecMatches(sent["spec"], out["spec"])


# -- restart -------------------------------------------------------------------------------------

class RestartTest(AppMeshTestCase):
    """SIGTERM, start again on the same data dir: everything is still there and still enforced."""

    def test_everything_survives_a_clean_restart(self):
        resources = build_walkthrough_topology(self.meshd, "dns")
        red = node("appmesh-ipv6-dns", "colorteller-red-vn")
        for preference in ("IPv6_ONLY", "IPv4_PREFERRED"):   # red-vn at version 3
            spec = load_example("dns", "red-vn")["spec"]
            spec["serviceDiscovery"]["dns"]["ipPreference"] = preference
            self.assertHttpOk(self.http("PUT", red.path(), {"spec": spec}))
        self.assertHttpOk(self.http("PUT", tags_path("tag", resources[0].arn),
                                    {"tags": tag_list({"walkthrough": "ipv6"})}))
        before = {res: self.describe_raw(res) for res in resources}

        self.assertEqual(self.meshd.restart(), 0, "SIGTERM must end meshd with exit code 0")

        for res, described in before.items():
            self.assertEqual(self.describe_raw(res), described, f"{res} changed across the restart")
        self.assertEqual(self.tags_of(resources[0].arn), {"walkthrough": "ipv6"})
        listed = self.appmesh_ok("list-virtual-nodes", "--mesh-name", "appmesh-ipv6-dns")["virtualNodes"]
        self.assertEqual(len(listed), len(COLORS))
        self.assert_still_writable_and_enforced(red)

    def assert_still_writable_and_enforced(self, red: Resource):
        updated = self.cli_ok("update", red, "--spec", as_json(load_example("dns", "red-vn")["spec"]))
        self.assertEqual(updated["virtualNode"]["metadata"]["version"], 4)
        # References were persisted too: red-vn still provides colorteller-1.
        self.assertCliError(self.cli("delete", red), "ResourceInUseException", "DeleteVirtualNode")


if __name__ == "__main__":
    unittest.main()
