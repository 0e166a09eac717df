// A cluster's circuit breakers end to end, as Envoy's: max_requests, max_connections with requests
// pending for a connection, max_pending_requests, and max_connections of a TCP proxy; and the limits
// of each connection its common_http_protocol_options set.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <vector>

#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>

#include "proxy/e2e_fixture.h"
#include "proxy/test_util.h"

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using namespace testing;

constexpr char kOverflowBody[] = "upstream connect error or disconnect/reset before headers. reset reason: overflow";

// One worker: which requests share a pool is then known (each worker has its own connections).
class OneWorkerE2eTest : public ProxyE2eTest {
 protected:
  OneWorkerE2eTest() { workers_ = 1; }

  // Cluster "slow" with `breakers` (text format), behind "/"; "/ready" goes to another cluster,
  // so that waiting for the configuration opens no connection to "slow".
  void serveSlow(int slowPort, int readyPort, const std::string& breakers) {
    auto c = staticCluster("slow", {slowPort});
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(breakers, c.mutable_circuit_breakers()->add_thresholds()));
    serve(c, readyPort);
  }
  // Cluster `c` behind "/", as serveSlow().
  void serve(const envoy::config::cluster::v3::Cluster& c, int readyPort) {
    set({c, staticCluster("ready", {readyPort})}, {httpListener("l", port_, "rc")},
        {routeConfig("rc", R"(routes { match { prefix: "/ready" } route { cluster: "ready" } }
                              routes { match { prefix: "/" } route { cluster: ")" + c.name() + R"(" } })")});
    await("/ready", [](auto& r) { return r.status == 200; });
  }
  std::future<HttpReply> getLater(const std::string& target) {
    return std::async(std::launch::async, [this, target] { return httpGet("127.0.0.1", port_, target); });
  }
  bool stat(const std::string& line) { return admin("/stats").find(line + "\n") != std::string::npos; }
};

TEST_F(ProxyE2eTest, CircuitBreakerOverflowIs503Overflow) {
  Upstream slow("slow", 200, 600ms);
  auto c = staticCluster("slow", {slow.port()});
  c.mutable_circuit_breakers()->add_thresholds()->mutable_max_requests()->set_value(1);
  set({c}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" } })")});
  ASSERT_EQ(await("/", [](auto& r) { return r.status == 200; }).status, 200);
  auto first = std::async(std::launch::async, [&] { return httpGet("127.0.0.1", port_, "/"); });
  ASSERT_TRUE(eventually([&] { return slow.requests() == 2; }));
  HttpReply second = httpGet("127.0.0.1", port_, "/");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.body, kOverflowBody);
  EXPECT_NE(second.head.find("x-envoy-overloaded: true\r\n"), std::string::npos) << second.head;
  EXPECT_EQ(first.get().status, 200);
  EXPECT_NE(admin("/stats").find("cluster.slow.upstream_rq_pending_overflow: 1"), std::string::npos);
}

// At max_connections, requests wait for the connection there is: each takes it as the one before
// gives it back, and the upstream sees one connection, not one per request.
TEST_F(OneWorkerE2eTest, AtMaxConnectionsRequestsWaitForTheConnection) {
  Upstream slow("slow", 200, 300ms, /*keepAlive=*/true), ready("ready");
  serveSlow(slow.port(), ready.port(), "max_connections { value: 1 }");
  std::vector<std::future<HttpReply>> replies;
  for (int i = 0; i < 3; ++i) replies.push_back(getLater("/" + std::to_string(i)));
  for (auto& r : replies) EXPECT_EQ(r.get().status, 200);
  EXPECT_EQ(slow.connections(), 1);
  EXPECT_TRUE(stat("cluster.slow.upstream_rq_pending_total: 3")) << admin("/stats");
  EXPECT_TRUE(stat("cluster.slow.upstream_rq_pending_active: 0"));
  EXPECT_TRUE(stat("cluster.slow.upstream_cx_active: 1"));  // idle now
  EXPECT_FALSE(stat("cluster.slow.upstream_cx_overflow: 0"));
  EXPECT_NE(admin("/stats/prometheus").find("# TYPE envoy_cluster_upstream_cx_active gauge\n"), std::string::npos);
}

// A connection that closes makes room: a request waiting for one opens its own then.
TEST_F(OneWorkerE2eTest, AConnectionThatClosesLetsAWaitingRequestOpenOne) {
  Upstream slow("slow", 200, 300ms, /*keepAlive=*/false), ready("ready");
  serveSlow(slow.port(), ready.port(), "max_connections { value: 1 }");
  auto first = getLater("/1");
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }));
  auto start = std::chrono::steady_clock::now();
  HttpReply second = httpGet("127.0.0.1", port_, "/2");
  EXPECT_EQ(second.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // woken by the close, not at its deadline
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(slow.connections(), 2);
}

// A request waiting for a connection whose client goes leaves the queue at once (at the client's
// next probe, within about two seconds), not at its turn or its deadline: the one connection,
// busy for 8 s, is not handed to it afterwards.
TEST_F(OneWorkerE2eTest, AWaitingRequestWhoseClientGoesLeavesTheQueue) {
  Upstream slow("slow", 200, 8000ms, /*keepAlive=*/true), ready("ready");
  serveSlow(slow.port(), ready.port(), "max_connections { value: 1 }");
  auto first = getLater("/1");
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }));
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /2 HTTP/1.1\r\nhost: svc\r\n\r\n");
  ASSERT_TRUE(eventually([&] { return stat("cluster.slow.upstream_rq_pending_active: 1"); }));
  auto start = std::chrono::steady_clock::now();
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return stat("cluster.slow.upstream_rq_pending_active: 0"); }, 5s)) << admin("/stats");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(slow.requests(), 1);  // nothing went upstream for the client that left
}

// Past max_pending_requests waiting for a connection, a request overflows: 503 "overflow".
TEST_F(OneWorkerE2eTest, PastMaxPendingRequestsARequestOverflows) {
  Upstream slow("slow", 200, 600ms, /*keepAlive=*/true), ready("ready");
  serveSlow(slow.port(), ready.port(), "max_connections { value: 1 } max_pending_requests { value: 1 }");
  auto first = getLater("/1");
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }));
  auto second = getLater("/2");
  ASSERT_TRUE(eventually([&] { return stat("cluster.slow.upstream_rq_pending_active: 1"); }));
  HttpReply third = httpGet("127.0.0.1", port_, "/3");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.body, kOverflowBody);
  EXPECT_NE(third.head.find("x-envoy-overloaded: true\r\n"), std::string::npos) << third.head;
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_TRUE(stat("cluster.slow.upstream_rq_pending_overflow: 1")) << admin("/stats");
  EXPECT_EQ(slow.connections(), 1);
}

// A TCP proxy at its cluster's max_connections closes a new connection at once (Envoy's UO); one
// closing makes room again.
TEST_F(ProxyE2eTest, ATcpProxyAtMaxConnectionsClosesNewConnections) {
  Upstream app("tcp-app");
  auto c = staticCluster("app", {app.port()});
  c.mutable_circuit_breakers()->add_thresholds()->mutable_max_connections()->set_value(1);
  set({c}, {tcpListener("t", port_, "app")}, {});
  ASSERT_EQ(await("/t", [](auto& r) { return r.status == 200; }).body, "tcp-app /t host=svc");
  auto active = [&](int n) {
    return admin("/stats").find("cluster.app.upstream_cx_active: " + std::to_string(n) + "\n") != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return active(0); }));  // the connection that waited has gone
  int connections = app.connections();
  int held = connectLoopback(port_);
  ASSERT_GE(held, 0);
  ASSERT_TRUE(eventually([&] { return active(1) && app.connections() == connections + 1; }));
  int refused = connectLoopback(port_);
  ASSERT_GE(refused, 0);
  auto [got, took] = readToClose(refused);
  ::close(refused);
  EXPECT_EQ(got, "");
  EXPECT_LT(took, 3s);
  EXPECT_NE(admin("/stats").find("cluster.app.upstream_cx_overflow: 1\n"), std::string::npos);
  ::close(held);
  EXPECT_TRUE(eventually([&] { return httpGet("127.0.0.1", port_, "/again").body == "tcp-app /again host=svc"; }));
}

// The cluster's HttpProtocolOptions.common_http_protocol_options, as Envoy's: a connection carries
// max_requests_per_connection requests and then closes; one idle past idle_timeout closes.
TEST_F(OneWorkerE2eTest, ClusterProtocolOptionsLimitEachConnection) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true), ready("ready");
  auto c = staticCluster("app", {app.port()});
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
  o.mutable_common_http_protocol_options()->mutable_max_requests_per_connection()->set_value(2);
  o.mutable_common_http_protocol_options()->mutable_idle_timeout()->set_nanos(300000000);
  o.mutable_explicit_http_config()->mutable_http_protocol_options();
  (*c.mutable_typed_extension_protocol_options())["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].PackFrom(o);
  serve(c, ready.port());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/" + std::to_string(i)).status, 200);
  EXPECT_EQ(app.connections(), 2);
  EXPECT_TRUE(stat("cluster.app.upstream_cx_max_requests: 2")) << admin("/stats");
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
  EXPECT_TRUE(eventually([&] { return stat("cluster.app.upstream_cx_idle_timeout: 1"); })) << admin("/stats");
  EXPECT_TRUE(stat("cluster.app.upstream_cx_active: 0"));
  EXPECT_EQ(app.connections(), 3);
}

}  // namespace
}  // namespace meshd::proxy
