// meshproxy in-process against meshd's real ADS server (xds_server) and loopback upstreams:
// warming, NACK-and-keep, retries, timeouts, rewrites, weighted clusters, EDS health, TCP proxy.
#include <gtest/gtest.h>

#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>

#include <filesystem>
#include <future>
#include <fstream>
#include <sstream>
#include <thread>
#include <google/protobuf/text_format.h>

#include "proxy/local_reply.h"
#include "proxy/e2e_fixture.h"
#include "proxy/proxy.h"
#include "proxy/test_util.h"
#include "xds/ads_server.h"
#include "xds/resource_types.h"
#include "xds/snapshot_cache.h"

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_F(ProxyE2eTest, ListenerServesOnlyOnceItsRoutesArrive) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")}, {});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 0);  // warming: not bound for traffic yet
  EXPECT_EQ(admin("/ready"), "PRE_INITIALIZING\n");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  EXPECT_EQ(await("/x", [](auto& r) { return r.status == 200; }).body, "app /x host=svc");
  EXPECT_EQ(admin("/ready"), "LIVE\n");
}

// HTTP/1.0, as Envoy's codec: refused with 426 "Upgrade Required" (an HTTP/1.1 reply) and the
// connection closed, unless http_protocol_options.accept_http_10; then default_host_for_http_10
// is the Host of a request without one.
TEST_F(ProxyE2eTest, Http10IsRefusedUnlessAccepted) {
  Upstream app("app");
  auto l = httpListener("l", port_, "rc");
  set({staticCluster("c", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  int before = app.requests();
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /old HTTP/1.0\r\nhost: svc\r\n\r\n");
  auto [refused, took] = readToClose(fd);
  ::close(fd);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 426 Upgrade Required\r\n")) << refused;
  EXPECT_TRUE(refused.ends_with("\r\n\r\nUpgrade Required")) << refused;
  EXPECT_NE(refused.find("content-length: 16\r\n"), std::string::npos) << refused;
  EXPECT_LT(took, 3s);
  EXPECT_EQ(app.requests(), before);

  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  m.mutable_http_protocol_options()->set_accept_http_10(true);
  m.mutable_http_protocol_options()->set_default_host_for_http_10("fallback");
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("c", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  std::string served;
  EXPECT_TRUE(eventually([&] {
    int fd = connectLoopback(port_);
    if (fd < 0) return false;
    sendAll(fd, "GET /old HTTP/1.0\r\n\r\n");
    served = readToClose(fd).first;
    ::close(fd);
    return served.find(" 200 ") != std::string::npos;
  })) << served;
  EXPECT_TRUE(served.ends_with("app /old host=fallback")) << served;
}

// As Envoy's HTTP/1 encoder: a request that ends with its head and gives no length goes upstream
// with "content-length: 0", unless its method has no body by definition.
TEST_F(ProxyE2eTest, ABodilessRequestSaysContentLengthZeroUpstream) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  for (auto [method, zero] : {std::pair{"POST", true}, {"PUT", true}, {"DELETE", false}, {"GET", false}}) {
    int fd = connectLoopback(port_);
    ASSERT_GE(fd, 0);
    sendAll(fd, std::string(method) + " /m HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n\r\n");
    std::string reply = readToClose(fd).first;
    ::close(fd);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
    std::string head = app.lastHead();
    EXPECT_TRUE(head.starts_with(std::string(method) + " /m HTTP/1.1\r\n")) << head;
    EXPECT_EQ(head.find("content-length: 0\r\n") != std::string::npos, zero) << head;
    EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
  }
}

TEST_F(ProxyE2eTest, RetriesConnectFailuresAndSaysSoInTheReply) {
  int dead = freePort();
  set({staticCluster("dead", {dead})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "dead"
         retry_policy { retry_on: "connect-failure" num_retries { value: 2 } } } })")});
  HttpReply r = await("/", [](auto& r) { return r.status == 503; });
  EXPECT_EQ(r.body, upstreamReset(kRemoteConnectionFailure, "delayed connect error: Connection refused", true).body);
  EXPECT_NE(r.head.find("content-type: text/plain"), std::string::npos);
  EXPECT_NE(admin("/stats").find("cluster.dead.upstream_rq_retry: 2"), std::string::npos) << admin("/stats");
  EXPECT_NE(admin("/stats").find("cluster.dead.upstream_cx_connect_fail: 3"), std::string::npos);
}

TEST_F(ProxyE2eTest, ConnectFailureWithoutRetriesIsThePlainBody) {
  set({staticCluster("dead", {freePort()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "dead" } })")});
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 503; }).body,
            "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, "
            "transport failure reason: delayed connect error: Connection refused");
}

TEST_F(ProxyE2eTest, RetryOn5xxReachesTheGoodHost) {
  Upstream bad("bad", 503), good("good");
  set({staticCluster("c", {bad.port(), good.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c"
         retry_policy { retry_on: "5xx" num_retries { value: 1 } } } })")});
  await("/", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 4; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "good / host=svc");
}

TEST_F(ProxyE2eTest, RouteTimeoutIs504UpstreamRequestTimeout) {
  Upstream slow("slow", 200, 3s);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" timeout { nanos: 300000000 } } })")});
  auto start = std::chrono::steady_clock::now();
  HttpReply r = await("/", [](auto& r) { return r.status != 0 && r.status != 404; });
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2900ms);
}

// The route's idle_timeout (App Mesh's timeout.idle) ends a request whose response has not started
// within it, sooner than the route timeout: Envoy's stream idle timeout, 504 "stream timeout" (SI),
// not retried as a per-try timeout would be.
TEST_F(ProxyE2eTest, RouteIdleTimeoutIs504StreamTimeout) {
  Upstream slow("slow", 200, 3s);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" timeout { seconds: 10 }
                              idle_timeout { nanos: 300000000 }
                              retry_policy { retry_on: "5xx" num_retries { value: 2 } per_try_timeout { seconds: 5 } } } })")});
  auto start = std::chrono::steady_clock::now();
  HttpReply r = await("/", [](auto& r) { return r.status != 0 && r.status != 404; });
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "stream timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2900ms);
  EXPECT_EQ(slow.requests(), 1);
  EXPECT_NE(admin("/stats").find("downstream_rq_idle_timeout: 1"), std::string::npos);
  EXPECT_NE(admin("/stats").find("cluster.slow.upstream_rq_timeout: 0"), std::string::npos);
}

// An idle_timeout longer than the response takes changes nothing.
TEST_F(ProxyE2eTest, RouteIdleTimeoutLongerThanTheResponseLetsItThrough) {
  Upstream app("app", 200, 100ms);
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" idle_timeout { seconds: 2 } } })")});
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 200; }).body, "app / host=svc");
}

TEST_F(ProxyE2eTest, RewritesPrefixAndHostAndSplitsByWeight) {
  Upstream a("a"), b("b");
  set({staticCluster("a", {a.port()}), staticCluster("b", {b.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(
         routes { match { prefix: "/red/" } route { cluster: "a" prefix_rewrite: "/" host_rewrite_literal: "red.svc" } }
         routes { match { prefix: "/split" } route { weighted_clusters {
           clusters { name: "a" weight { value: 50 } } clusters { name: "b" weight { value: 50 } } } } })")});
  EXPECT_EQ(await("/red/x?y=1", [](auto& r) { return r.status == 200; }).body, "a /x?y=1 host=red.svc");
  std::set<std::string> seen;
  for (int i = 0; i < 40 && seen.size() < 2; ++i) seen.insert(httpGet("127.0.0.1", port_, "/split").body.substr(0, 1));
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/other").status, 404);
}

TEST_F(ProxyE2eTest, EdsHealthStatusAndPanicMode) {
  Upstream up("up"), down("down");
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "cluster_name: \"e\" endpoints { lb_endpoints { endpoint { address { socket_address { address: \"127.0.0.1\" port_value: " +
          std::to_string(down.port()) + " } } } health_status: UNHEALTHY } lb_endpoints { endpoint { address { socket_address { "
          "address: \"127.0.0.1\" port_value: " + std::to_string(up.port()) + " } } } health_status: HEALTHY } }",
      &cla));
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "e" } })");
  set({edsCluster("e")}, {httpListener("l", port_, "rc")}, {routes}, {cla});
  await("/", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 4; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "up / host=svc");
  EXPECT_NE(admin("/clusters").find("e::127.0.0.1:" + std::to_string(down.port()) + "::health_flags::/failed_eds_health"),
            std::string::npos);
  // Both unhealthy: below the 50% panic threshold, so every host takes traffic again.
  cla.mutable_endpoints(0)->mutable_lb_endpoints(1)->set_health_status(envoy::config::core::v3::UNHEALTHY);
  set({edsCluster("e")}, {httpListener("l", port_, "rc")}, {routes}, {cla});
  EXPECT_TRUE(eventually([&] { return httpGet("127.0.0.1", port_, "/").body == "down / host=svc"; }));
  // No endpoints at all: no healthy upstream.
  cla.clear_endpoints();
  set({edsCluster("e")}, {httpListener("l", port_, "rc")}, {routes}, {cla});
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 503; }).body, "no healthy upstream");
}

TEST_F(ProxyE2eTest, NacksWhatItCannotApplyAndKeepsServing) {
  Upstream app("app");
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")}, {routes});
  await("/", [](auto& r) { return r.status == 200; });
  auto bad = staticCluster("odd", {app.port()});
  bad.set_type(envoy::config::cluster::v3::Cluster::ORIGINAL_DST);
  auto compat = httpListener("l", port_, "rc");
  compat.mutable_address()->mutable_socket_address()->set_ipv4_compat(true);
  set({staticCluster("app", {app.port()}), bad}, {compat}, {routes});
  ASSERT_TRUE(eventually([&] {
    auto p = cache_.proxies();
    return p.size() == 1 && p[0].lastNackType == std::string(xds::kListenerType);
  }));
  auto p = cache_.proxies()[0];
  EXPECT_EQ(p.lastNackReason, "listener l: ipv4_compat is only valid on ::, not on 127.0.0.1");
  EXPECT_NE(admin("/config_dump").find("\"app\""), std::string::npos);
  EXPECT_EQ(admin("/config_dump").find("\"odd\""), std::string::npos);
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "app / host=svc");
}

// A listener the proxy refuses leaves no stats behind, as Envoy drops a rejected listener's scope.
TEST_F(ProxyE2eTest, ARejectedListenerHasNoStats) {
  Upstream app("app");
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")}, {routes});
  await("/", [](auto& r) { return r.status == 200; });
  int other = freePort();
  auto empty = httpListener("l2", other, "rc");
  empty.clear_filter_chains();  // refused late, once its address was found good
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc"), empty}, {routes});
  ASSERT_TRUE(eventually([&] {
    auto p = cache_.proxies();
    return p.size() == 1 && p[0].lastNackType == std::string(xds::kListenerType);
  }));
  std::string stats = admin("/stats");
  EXPECT_NE(stats.find("listener.127.0.0.1_" + std::to_string(port_) + ".downstream_cx_total"), std::string::npos);
  EXPECT_EQ(stats.find("listener.127.0.0.1_" + std::to_string(other) + "."), std::string::npos) << stats;
}

TEST_F(ProxyE2eTest, ActiveHealthChecksTakeFailingHostsOut) {
  Upstream good("good"), sick("sick", 503);
  serveCheckedCluster({good.port(), sick.port()}, "interval { nanos: 50000000 } unhealthy_threshold { value: 2 } healthy_threshold { value: 2 }");
  // Whole lines: a host not checked yet shows /failed_active_hc/pending_active_hc.
  ASSERT_TRUE(healthSettles({{"c", sick.port(), "/failed_active_hc"}, {"c", good.port(), "healthy"}}));
  await("/", [](auto& r) { return r.status == 200; });  // the listener is live
  for (int i = 0; i < 4; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "good / host=svc");
  std::string stats = admin("/stats");
  EXPECT_NE(stats.find("cluster.c.health_check.healthy: 1"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("cluster.c.health_check.failure: 0"), std::string::npos) << stats;
  EXPECT_NE(admin("/stats/prometheus").find("envoy_cluster_health_check_failure{envoy_cluster_name=\"c\"}"), std::string::npos);
}

// As Envoy: a new host counts as failed until its first check, and that check alone decides; the
// thresholds apply from then on. (meshd's diagnose reads these flags to tell what a target's app
// accepts, so they must settle after one check, not after unhealthy_threshold intervals.)
TEST_F(ProxyE2eTest, TheFirstHealthCheckAloneDecides) {
  Upstream good("good"), sick("sick", 503);
  serveCheckedCluster({good.port(), sick.port()}, "interval { seconds: 30 } unhealthy_threshold { value: 3 } healthy_threshold { value: 3 }");
  ASSERT_TRUE(healthSettles({{"c", sick.port(), "/failed_active_hc"}, {"c", good.port(), "healthy"}}, 3s));
  EXPECT_NE(admin("/stats").find("cluster.c.health_check.attempt: 2"), std::string::npos) << admin("/stats");
}

// As Envoy's cluster warming: a cluster with active health checks is not used (nor is the proxy
// LIVE) until each of its hosts had its first check, so its hosts never serve as pending.
TEST_F(ProxyE2eTest, AHealthCheckedClusterWarmsWithItsFirstChecks) {
  Upstream slow("slow", 200, 800ms);  // answers the first check after 0.8 s
  auto start = std::chrono::steady_clock::now();
  serveCheckedCluster({slow.port()}, "interval { seconds: 30 }");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(admin("/ready"), "PRE_INITIALIZING\n");
  EXPECT_EQ(admin("/clusters").find("c::"), std::string::npos) << admin("/clusters");
  ASSERT_TRUE(eventually([&] { return admin("/ready") == "LIVE\n"; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 700ms);
  EXPECT_TRUE(healthSettles({{"c", slow.port(), "healthy"}}, 0s)) << "pending when it came";
}

// A changed cluster is built anew, as Envoy's: its hosts get fresh first checks while the previous
// version serves, so the change never shows its hosts pending.
TEST_F(ProxyE2eTest, AChangedHealthCheckedClusterWarmsWithFreshChecks) {
  Upstream good("good");
  serveCheckedCluster({good.port()}, "interval { seconds: 30 }");
  ASSERT_TRUE(healthSettles({{"c", good.port(), "healthy"}}));
  EXPECT_NE(admin("/stats").find("cluster.c.health_check.attempt: 1\n"), std::string::npos) << admin("/stats");
  auto c = staticCluster("c", {good.port()});
  c.mutable_connect_timeout()->set_seconds(3);  // a change
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { seconds: 1 } interval { seconds: 30 } http_health_check { path: \"/ping\" }", c.add_health_checks()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(eventually([&] { return admin("/stats").find("cluster.c.health_check.attempt: 2\n") != std::string::npos; }));
  EXPECT_TRUE(healthSettles({{"c", good.port(), "healthy"}}, 0s));
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
}

// As Envoy's HTTP health checker (reuse_connection, true by default): one connection carries probe
// after probe while the host keeps it open, and each is `GET /ping` with lowercase names, the
// cluster's name as host and no connection field. A host that closes it gets a new one.
TEST_F(ProxyE2eTest, HealthChecksReuseTheirConnection) {
  std::mutex mu;
  std::vector<std::string> heads;
  std::atomic<int> connections{0};
  std::atomic<bool> done{false};
  AcceptLoop host([&](int fd) {
    int n = ++connections;
    timeval tv{0, 100000};  // lets the connection notice `done`
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string in;
    char buf[4096];
    for (int served = 0;;) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t got = done ? 0 : ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EAGAIN) continue;
        if (got <= 0) {
          ::close(fd);
          return;
        }
        in.append(buf, static_cast<size_t>(got));
      }
      {
        std::lock_guard lock(mu);
        heads.push_back(in.substr(0, end + 4));
      }
      in.erase(0, end + 4);
      sendAll(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      if (n == 1 && ++served == 3) {  // the host closes the first connection after three probes
        ::close(fd);
        return;
      }
    }
  });
  struct Done {
    std::atomic<bool>& done;
    ~Done() { done = true; }  // before `host` joins its connections, however the test ends
  } guard{done};
  serveCheckedCluster({host.port()}, "interval { nanos: 30000000 } no_traffic_interval { nanos: 30000000 }");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return heads.size() >= 6;
  })) << heads.size() << " probes, " << connections.load() << " connections\n" << admin("/clusters") << admin("/stats");
  EXPECT_EQ(connections.load(), 2);  // the first, closed by the host after three probes, then one more
  std::lock_guard lock(mu);
  EXPECT_EQ(heads[0], "GET /ping HTTP/1.1\r\nhost: c\r\nuser-agent: Envoy/HC\r\n\r\n");
  EXPECT_EQ(heads[5], heads[0]);
}

// As Envoy's tcp_proxy idle_timeout (an hour by default): a proxied connection on which neither
// side sends a byte for that long is closed, both ends; one that carries bytes is not.
TEST_F(ProxyE2eTest, ATcpProxyClosesAnIdleConnection) {
  Upstream app("tcp-app", 200, 0ms, true);
  auto l = tcpListener("t", port_, "app");
  auto* filter = l.mutable_filter_chains(0)->mutable_filters(0);
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  ASSERT_TRUE(filter->typed_config().UnpackTo(&t));
  t.mutable_idle_timeout()->set_nanos(300000000);
  filter->mutable_typed_config()->PackFrom(t);
  set({staticCluster("app", {app.port()})}, {l}, {});
  ASSERT_EQ(await("/t", [](auto& r) { return r.status == 200; }).body, "tcp-app /t host=svc");
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(eventually([&] { return app.connections() >= 2; }));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {  // a request every 200 ms keeps it open past the timeout
    std::this_thread::sleep_for(200ms);
    sendAll(fd, "GET /k HTTP/1.1\r\nhost: svc\r\n\r\n");
    std::string in;
    char buf[4096];
    while (in.find("tcp-app /k") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "closed after " << (std::chrono::steady_clock::now() - start) / 1ms << " ms: " << in;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  auto [rest, took] = readToClose(fd);  // then silence: closed at the timeout
  ::close(fd);
  EXPECT_EQ(rest, "");
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

// As Envoy: until its cluster has carried traffic, a host is checked every no_traffic_interval
// (60 s by default), not every interval.
TEST_F(ProxyE2eTest, AClusterWithoutTrafficIsCheckedAtTheNoTrafficInterval) {
  Upstream good("good");
  serveCheckedCluster({good.port()}, "interval { nanos: 50000000 } unhealthy_threshold { value: 1 } healthy_threshold { value: 1 }");
  ASSERT_TRUE(healthSettles({{"c", good.port(), "healthy"}}, 3s));
  std::this_thread::sleep_for(500ms);  // ten intervals
  EXPECT_NE(admin("/stats").find("cluster.c.health_check.attempt: 1\n"), std::string::npos) << admin("/stats");
}

TEST_F(ProxyE2eTest, FilterChainByDestinationPortFallsBackToTheLocalPort) {
  Upstream a("a"), b("b");
  auto l = httpListener("l", port_, "ra");
  l.mutable_filter_chains(0)->mutable_filter_chain_match()->mutable_destination_port()->set_value(port_ + 1);
  auto second = httpListener("x", port_, "rb").filter_chains(0);
  second.mutable_filter_chain_match()->mutable_destination_port()->set_value(port_);
  *l.add_filter_chains() = second;
  l.add_listener_filters()->set_name("envoy.filters.listener.original_dst");  // not redirected: the local port decides
  set({staticCluster("a", {a.port()}), staticCluster("b", {b.port()})}, {l},
      {routeConfig("ra", R"(routes { match { prefix: "/" } route { cluster: "a" } })"),
       routeConfig("rb", R"(routes { match { prefix: "/" } route { cluster: "b" } })")});
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 200; }).body, "b / host=svc");
}

TEST_F(ProxyE2eTest, ReusesKeptAliveUpstreamConnections) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "app / host=svc");
  EXPECT_EQ(app.requests(), 11);
  EXPECT_LE(app.connections(), 2);  // one per worker at most
}

// As Envoy's, connection pools are per cluster: a cluster never reuses another's connection to the
// same address, and each counts its own.
TEST_F(ProxyE2eTest, ClustersKeepTheirOwnConnectionsToTheSameHost) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("a", {app.port()}), staticCluster("b", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/a" } route { cluster: "a" } }
                            routes { match { prefix: "/b" } route { cluster: "b" } })")});
  await("/a", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/a").status, 200);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/b").status, 200);
  std::string stats = admin("/stats");
  EXPECT_NE(stats.find("cluster.a.upstream_cx_total: "), std::string::npos);
  EXPECT_EQ(stats.find("cluster.b.upstream_cx_total: 0\n"), std::string::npos) << stats;
  EXPECT_GE(app.connections(), 2);
}

// A listener moved to another address drains the connections the old one accepted: an idle one is
// closed at once, one with a request in flight gets its reply with `connection: close`. Otherwise a
// caller's pooled connection would go on reaching the old listener (and, in the walkthrough, an
// outcome would depend on which connection a request happened to take).
TEST_F(ProxyE2eTest, ReplacedListenerDrainsItsConnections) {
  Upstream app("app"), slow("slow", 200, 500ms);
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/slow" } route { cluster: "slow" } }
                                     routes { match { prefix: "/" } route { cluster: "app" } })");
  std::vector clusters{staticCluster("app", {app.port()}), staticCluster("slow", {slow.port()})};
  set(clusters, {httpListener("l", port_, "rc")}, {routes});
  await("/", [](auto& r) { return r.status == 200; });
  KeepAliveClient idle("127.0.0.1", port_), busy("127.0.0.1", port_);
  ASSERT_EQ(idle.get("/").status, 200);
  ASSERT_EQ(busy.get("/").status, 200);
  EXPECT_FALSE(idle.closedWithin(100ms));  // kept alive while the listener stays
  busy.send("/slow");
  ASSERT_TRUE(eventually([&] { return slow.requests() == 1; }));
  auto moved = httpListener("l", port_, "rc");
  moved.mutable_address()->mutable_socket_address()->set_address("127.0.0.2");
  set(clusters, {moved}, {routes});
  EXPECT_TRUE(idle.closedWithin(3s));
  HttpReply last = busy.read();
  EXPECT_EQ(last.body, "slow /slow host=svc");
  EXPECT_NE(last.head.find("connection: close"), std::string::npos) << last.head;
  EXPECT_TRUE(busy.closedWithin(3s));
  EXPECT_EQ(httpGet("127.0.0.2", port_, "/").body, "app / host=svc");
}

// Requests the HTTP/1 codec cannot take get Envoy's codec replies, and the connection closes.
TEST_F(ProxyE2eTest, MalformedAndOversizedRequestsGetEnvoysCodecReplies) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  auto exchange = [&](const std::string& request) {
    KeepAliveClient c("127.0.0.1", port_);
    c.sendRaw(request);
    HttpReply r = c.read();
    EXPECT_TRUE(c.closedWithin(2s));
    return r;
  };
  HttpReply big = exchange("GET / HTTP/1.1\r\nhost: svc\r\nx-big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.status, 431);
  EXPECT_EQ(big.body, "Request Header Fields Too Large");
  std::string many;  // 101 fields with the host: one over Envoy's max_headers_count
  for (int i = 0; i < 100; ++i) many += "x-h" + std::to_string(i) + ": v\r\n";
  HttpReply numerous = exchange("GET / HTTP/1.1\r\nhost: svc\r\n" + many + "\r\n");
  EXPECT_EQ(numerous.status, 431);
  EXPECT_EQ(numerous.body, "Request Header Fields Too Large");
  HttpReply bad = exchange("GET / HTTP/9.9\r\nhost: svc\r\n\r\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "Bad Request");
  EXPECT_NE(bad.head.find("connection: close"), std::string::npos);
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/", "svc").body, "app / host=svc");  // under the limit: served
  EXPECT_EQ(app.requests(), 2);
}

// An upstream whose response head the codec cannot take (malformed, over 60 KiB or over 100
// fields) is a protocol error to Envoy's router: 502 with the reset reason, flag UPE.
TEST_F(ProxyE2eTest, MalformedUpstreamResponseIs502ProtocolError) {
  std::atomic<int> served{0};
  AcceptLoop bad([&](int fd) {
    char buf[4096];
    if (::recv(fd, buf, sizeof buf, 0) > 0) {
      std::string reply = ++served % 2 ? "HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0\r\n\r\n"
                                       : "HTTP/1.1 200 OK\r\nx-big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  });
  set({staticCluster("c", {bad.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  HttpReply malformed = await("/", [](auto& r) { return r.status != 404 && r.status != 0; });
  HttpReply oversized = httpGet("127.0.0.1", port_, "/");
  for (const HttpReply& r : {malformed, oversized}) {
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body, "upstream connect error or disconnect/reset before headers. reset reason: protocol error");
  }
}

// The chunks of a chunked HTTP/1.1 body, joined ("" when the framing is broken).
std::string dechunk(std::string_view in) {
  std::string out;
  for (;;) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return "";
    size_t n = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
    if (n == 0) return in.substr(eol) == "\r\n\r\n" ? out : "";
    if (in.size() < eol + 2 + n + 2) return "";
    out += in.substr(eol + 2, n);
    in.remove_prefix(eol + 2 + n + 2);
  }
}

// As Envoy without proxy_100_continue: an upstream's interim 100 is dropped and the final response
// relayed. Its body, delimited by the upstream closing the connection, reaches an HTTP/1.1 client
// chunked, whole.
TEST_F(ProxyE2eTest, InterimResponseIsDroppedAndAConnectionDelimitedBodyRelayedChunked) {
  AcceptLoop app([](int fd) {
    char buf[4096];
    if (::recv(fd, buf, sizeof buf, 0) > 0) {
      std::string reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nx-app: yes\r\n\r\nuntil the end";
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  });
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  HttpReply r = await("/", [](auto& r) { return r.status != 404 && r.status != 0; });
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("x-app: yes\r\n"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("transfer-encoding: chunked\r\n"), std::string::npos) << r.head;
  EXPECT_EQ(dechunk(r.body), "until the end") << r.body;
}

// A response head that arrives in pieces (here split inside a field name, then inside the empty
// line) is read on until it is whole; its body follows by its length.
TEST_F(ProxyE2eTest, AResponseHeadInPiecesIsReadWhole) {
  AcceptLoop app([](int fd) {
    char buf[4096];
    if (::recv(fd, buf, sizeof buf, 0) > 0) {
      for (std::string_view piece : {"HTTP/1.1 200 OK\r\nx-app: yes\r\ncontent-", "length: 2\r\n\r", "\nok"}) {
        ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    }
    ::close(fd);
  });
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  HttpReply r = await("/", [](auto& r) { return r.status != 404 && r.status != 0; });
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("content-length: 2\r\n"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("x-app: yes\r\n"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "ok");
}

// A client's request head may arrive in pieces (split in the request line, in a field name and in
// its empty line), and requests may come pipelined, two in one packet: each is read whole, in order.
TEST_F(ProxyE2eTest, ARequestHeadInPiecesAndPipelinedRequestsAreReadWhole) {
  Upstream app("app", 200, std::chrono::milliseconds(0), true);
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  KeepAliveClient c("127.0.0.1", port_);
  for (std::string piece : {"GET /pie", "ces HTTP/1.1\r\nho", "st: svc\r\n\r", "\n"}) {
    c.sendRaw(piece);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  EXPECT_EQ(c.read().body, "app /pieces host=svc");
  c.sendRaw("GET /one HTTP/1.1\r\nhost: svc\r\n\r\nGET /two HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(c.read().body, "app /one host=svc");
  EXPECT_EQ(c.read().body, "app /two host=other");
}

// Sends `bytes` and the FIN in one segment (MSG_MORE holds the data until the shutdown): the
// receiver's one readiness edge carries both.
void sendWithFin(int fd, const std::string& bytes) {
  ::send(fd, bytes.data(), bytes.size(), MSG_MORE | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

// A client that half-closes with its request: answered, then closed soon after (the stream's probe
// finds the FIN that came with the request), not kept until the idle timeout.
TEST_F(ProxyE2eTest, AClientThatHalfClosesWithItsRequestIsAnsweredThenClosed) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendWithFin(fd, "GET /half HTTP/1.1\r\nhost: svc\r\n\r\n");
  auto [got, took] = readToClose(fd);
  ::close(fd);
  EXPECT_NE(got.find("app /half host=svc"), std::string::npos) << got;
  EXPECT_LT(took, 4s);
}

// An upstream that sends half of its body and closes, the FIN in the edge of that data: the client's
// connection is closed soon after, not at the route timeout (15 s).
TEST_F(ProxyE2eTest, AnUpstreamGoneMidBodyClosesTheClientSoon) {
  AcceptLoop app([](int fd) {
    char buf[4096];
    if (::recv(fd, buf, sizeof buf, 0) > 0) sendWithFin(fd, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello");
    std::this_thread::sleep_for(100ms);
    ::close(fd);
  });
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status != 404 && r.status != 0; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::string request = "GET / HTTP/1.1\r\nhost: svc\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  auto [got, took] = readToClose(fd);
  ::close(fd);
  EXPECT_NE(got.find("content-length: 10\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\nhello")) << got;
  EXPECT_LT(took, 4s);
}

// meshd's gateway route to a router-provided virtual service without a host rewrite: the gateway
// sends the request through its own egress listener, naming the service in
// x-app-mesh-virtual-service (the route's request_headers_to_add), which the egress listener's
// fallback virtual host routes on. Without the header that second hop finds no route (404).
TEST_F(ProxyE2eTest, RequestHeadersToAddCarryTheServiceThroughTheGatewaysEgress) {
  Upstream app("app");
  int egressPort = freePort();
  set({staticCluster("self", {egressPort}), staticCluster("app", {app.port()})},
      {httpListener("gw", port_, "gw"), httpListener("egress", egressPort, "egress")},
      {routeConfig("gw", R"(routes { match { prefix: "/" } route { cluster: "self" }
                            request_headers_to_add { header { key: "x-app-mesh-virtual-service" value: "svc.local" } } })"),
       routeConfig("egress", R"(routes { match { prefix: "/" headers { name: "x-app-mesh-virtual-service"
                                                                    string_match { exact: "svc.local" } } }
                                         route { cluster: "app" } })")});
  EXPECT_EQ(await("/x", [](auto& r) { return r.status == 200; }).body, "app /x host=svc");
  EXPECT_EQ(httpGet("127.0.0.1", egressPort, "/x").status, 404);  // the same request without the header
}

TEST_F(ProxyE2eTest, TcpProxyCopiesBothWays) {
  Upstream app("tcp-app");
  set({staticCluster("app", {app.port()})}, {tcpListener("t", port_, "app")}, {});
  EXPECT_EQ(await("/t", [](auto& r) { return r.status == 200; }).body, "tcp-app /t host=svc");
}

TEST_F(ProxyE2eTest, TcpProxySplitsOverWeightedClusters) {
  Upstream a("tcp-a"), b("tcp-b");
  auto l = tcpListener("t", port_, "a");
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  ASSERT_TRUE(l.filter_chains(0).filters(0).typed_config().UnpackTo(&t));
  t.clear_cluster();
  for (const char* c : {"a", "b"}) {
    auto* w = t.mutable_weighted_clusters()->add_clusters();
    w->set_name(c);
    w->set_weight(1);
  }
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(t);
  set({staticCluster("a", {a.port()}), staticCluster("b", {b.port()})}, {l}, {});
  await("/t", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 30; ++i) httpGet("127.0.0.1", port_, "/t");
  EXPECT_GT(a.requests(), 3);
  EXPECT_GT(b.requests(), 3);
}

}  // namespace
}  // namespace meshd::proxy
