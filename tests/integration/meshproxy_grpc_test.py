"""gRPC through meshproxy, end to end with real gRPC: a virtual gateway with a grpc listener and a
grpcRoute, to a virtual node whose listener protocol is grpc (so meshd's cluster speaks HTTP/2 to
it), served by a grpcio server; grpcio clients call through the gateway. Needs Debian's
python3-grpcio (run with /usr/bin/python3); skipped without it."""
import json
import unittest
from concurrent import futures

from proxy_fixtures import apply, eventually, free_port, meshctl, meshproxy, wait_live, start_meshd

try:
    import grpc
except ImportError:  # pragma: no cover
    grpc = None

MESH = "gm"
NS = "grpc.local.cloud"


def say(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    return b"echo:" + request


def count(request, context):
    for i in range(int(request)):
        yield str(i).encode()


@unittest.skipIf(grpc is None, "python3-grpcio is not installed")
class MeshproxyGrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ep = start_meshd(cls, "meshproxy-grpc-it-")
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        cls.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("echo.Echo", {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Count": grpc.unary_stream_rpc_method_handler(count)}),))
        port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()
        cls.addClassCleanup(cls.server.stop, None)
        cls.gw_port, cls.gw_admin = free_port(), free_port()
        meshctl(ep, "namespace", "create", NS)
        apply(ep, cls.dir, "mesh", {"meshName": MESH, "spec": {}})
        meshctl(ep, "service", "create", "echo", "--namespace", NS, "--records", "A")
        meshctl(ep, "instance", "register", "--namespace", NS, "--service", "echo", "--id", "echo-1",
                "--ipv4", "127.0.0.1", "--port", str(port))
        apply(ep, cls.dir, "echo-vn", {"meshName": MESH, "virtualNodeName": "echo-vn", "spec": {
            "listeners": [{"portMapping": {"port": port, "protocol": "grpc"}}],
            "serviceDiscovery": {"awsCloudMap": {"namespaceName": NS, "serviceName": "echo"}}}})
        apply(ep, cls.dir, "vs", {"meshName": MESH, "virtualServiceName": "echo.local",
                                  "spec": {"provider": {"virtualNode": {"virtualNodeName": "echo-vn"}}}})
        apply(ep, cls.dir, "gw", {"meshName": MESH, "virtualGatewayName": "gw", "spec": {
            "listeners": [{"portMapping": {"port": cls.gw_port, "protocol": "grpc"}}]}})
        apply(ep, cls.dir, "gr", {"meshName": MESH, "virtualGatewayName": "gw", "gatewayRouteName": "echo", "spec": {
            "grpcRoute": {"match": {"serviceName": "echo.Echo"},
                          "action": {"target": {"virtualService": {"virtualServiceName": "echo.local"}}}}}})
        addrs = json.loads(cls.meshd.ready_file.read_text())
        cls.gateway = meshproxy(f"mesh/{MESH}/virtualGateway/gw", addrs["xds"], addrs["dns"], cls.gw_admin)
        cls.addClassCleanup(cls.gateway.cleanup)
        wait_live(cls.gateway, cls.gw_admin)
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.gw_port}")
        cls.addClassCleanup(cls.channel.close)

    def call(self, method, request):
        try:
            return self.channel.unary_unary(f"/echo.Echo/{method}")(request, timeout=5)
        except grpc.RpcError as e:
            return e

    def test_1_unary_calls_reach_the_grpc_server(self):
        self.assertTrue(eventually(lambda: self.call("Say", b"hi") == b"echo:hi", timeout=20), self.call("Say", b"hi"))
        for i in range(20):
            self.assertEqual(self.call("Say", b"n%d" % i), b"echo:n%d" % i)

    def test_2_server_streaming_and_the_servers_status_in_trailers(self):
        eventually(lambda: self.call("Say", b"hi") == b"echo:hi", timeout=20)
        stream = self.channel.unary_stream("/echo.Echo/Count")(b"50", timeout=5)
        self.assertEqual([m for m in stream], [str(i).encode() for i in range(50)])
        err = self.call("Say", b"missing")  # grpc-status and grpc-message come back in the trailers
        self.assertIsInstance(err, grpc.RpcError)
        self.assertEqual((err.code(), err.details()), (grpc.StatusCode.NOT_FOUND, "no such thing"))

    def test_3_no_route_is_envoys_local_reply_as_grpc_status(self):
        try:
            self.channel.unary_unary("/other.Svc/Call")(b"x", timeout=5)
            self.fail("a call with no route succeeded")
        except grpc.RpcError as e:
            # Envoy's 404 for no route, as gRPC: UNIMPLEMENTED in a trailers-only reply.
            self.assertEqual(e.code(), grpc.StatusCode.UNIMPLEMENTED, e)


if __name__ == "__main__":
    unittest.main()
