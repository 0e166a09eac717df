// A client's x-envoy-* retry and timeout headers. Envoy's router honours them from an internal
// request (one x-forwarded-for address, an internal one) and consumes them; from any other request
// the connection manager strips them first (meshd's connection managers keep Envoy's defaults).
#include <unistd.h>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

// One x-forwarded-for address, an internal one: the request is internal.
const std::string kInternal = "x-forwarded-for: 10.0.0.1\r\n";

class ClientHeadersE2eTest : public ProxyE2eTest {
 protected:
  // One GET of `target` with `fields` ("name: value\r\n" lines); the whole reply (empty when
  // nothing listens yet) and how long it took.
  std::pair<std::string, std::chrono::steady_clock::duration> get(const std::string& target, const std::string& fields) {
    int fd = connectLoopback(port_);
    if (fd < 0) return {};  // no listener yet
    sendAll(fd, "GET " + target + " HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n" + fields + "\r\n");
    auto reply = readToClose(fd);
    ::close(fd);
    return reply;
  }
};

// No retry policy on the route: the client's x-envoy-retry-on and x-envoy-max-retries make one.
TEST_F(ClientHeadersE2eTest, TheClientsRetryHeadersAreHonoured) {
  Upstream sick("sick", 503);
  set({staticCluster("sick", {sick.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "sick" } })")});
  await("/", [](auto& r) { return r.status == 503; });
  int before = sick.requests();
  auto [plain, t0] = get("/", "");
  EXPECT_EQ(sick.requests() - before, 1);  // no policy: no retry
  before = sick.requests();
  auto [retried, t1] = get("/", kInternal + "x-envoy-retry-on: 5xx\r\nx-envoy-max-retries: 2\r\n");
  EXPECT_TRUE(retried.starts_with("HTTP/1.1 503")) << retried;
  EXPECT_EQ(sick.requests() - before, 3);  // once and twice again
  before = sick.requests();
  get("/", kInternal + "x-envoy-retry-on: 5xx\r\n");
  EXPECT_EQ(sick.requests() - before, 2);  // Envoy's default policy: one retry
  before = sick.requests();
  get("/", kInternal + "x-envoy-max-retries: 3\r\n");
  EXPECT_EQ(sick.requests() - before, 1);  // a count with nothing to retry on
  before = sick.requests();
  get("/", "x-envoy-retry-on: 5xx\r\nx-envoy-max-retries: 2\r\n");
  EXPECT_EQ(sick.requests() - before, 1);  // external: stripped, never honoured
  before = sick.requests();
  get("/", "x-forwarded-for: 10.0.0.1, 10.0.0.2\r\nx-envoy-retry-on: 5xx\r\n");
  EXPECT_EQ(sick.requests() - before, 1);  // two hops: external too
}

// x-envoy-upstream-rq-timeout-ms replaces the route's timeout; the upstream never sees it.
TEST_F(ClientHeadersE2eTest, TheClientsTimeoutReplacesTheRoutes) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" timeout { seconds: 10 } } })")});
  std::string fields = kInternal + "x-envoy-upstream-rq-timeout-ms: 200\r\n";
  auto [reply, took] = get("/", fields);
  for (int i = 0; i < 100 && reply.empty(); ++i) {  // until the listener is there
    std::this_thread::sleep_for(50ms);
    std::tie(reply, took) = get("/", fields);
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 504")) << reply;
  EXPECT_NE(reply.find("\r\n\r\nupstream request timeout"), std::string::npos) << reply;
  EXPECT_LT(took, 2000ms);
  std::string head = slow.lastHead();
  EXPECT_EQ(head.find("x-envoy-upstream-rq-timeout-ms"), std::string::npos) << head;
  EXPECT_NE(head.find("x-envoy-expected-rq-timeout-ms: 200\r\n"), std::string::npos) << head;  // the router's own
}

// x-envoy-upstream-rq-timeout-alt-response (any value): the timeout is answered 204 with no body,
// charged to the cluster as 204, and the header does not go upstream. Not for an external request.
TEST_F(ClientHeadersE2eTest, TheClientsAltResponseMakesATimeout204) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" timeout { nanos: 200000000 } } })")});
  std::string alt = "x-envoy-upstream-rq-timeout-alt-response: please\r\n";
  auto [reply, took] = get("/", kInternal + alt);
  for (int i = 0; i < 100 && reply.empty(); ++i) {  // until the listener is there
    std::this_thread::sleep_for(50ms);
    std::tie(reply, took) = get("/", kInternal + alt);
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 204")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\n")) << reply;
  EXPECT_EQ(reply.find("content-length"), std::string::npos) << reply;
  EXPECT_EQ(slow.lastHead().find("x-envoy-upstream-rq-timeout-alt-response"), std::string::npos) << slow.lastHead();
  EXPECT_NE(admin("/stats").find("cluster.slow.upstream_rq_204: 1\n"), std::string::npos);
  EXPECT_NE(admin("/stats").find("cluster.slow.upstream_rq_timeout: 1\n"), std::string::npos);
  std::tie(reply, took) = get("/", alt);  // external: stripped, never honoured
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 504")) << reply;
}

// A per-try timeout from the client makes a slow attempt retriable as a reset.
TEST_F(ClientHeadersE2eTest, TheClientsPerTryTimeoutIsRetried) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" } })")});
  std::string fields =
      kInternal + "x-envoy-retry-on: reset\r\nx-envoy-max-retries: 1\r\nx-envoy-upstream-rq-per-try-timeout-ms: 150\r\n";
  auto [reply, took] = get("/", fields);
  for (int i = 0; i < 100 && reply.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    std::tie(reply, took) = get("/", fields);
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 504")) << reply;
  EXPECT_LT(took, 2000ms);
  EXPECT_TRUE(eventually([&] { return slow.requests() >= 2; }));  // the first try and its retry
  // As Envoy's router: each try's timeout counts, the route's timeout never fired.
  std::string stats = admin("/stats");
  EXPECT_NE(stats.find("cluster.slow.upstream_rq_per_try_timeout: 2\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("cluster.slow.upstream_rq_timeout: 0\n"), std::string::npos) << stats;
  std::string head = slow.lastHead();
  EXPECT_EQ(head.find("x-envoy-retry-on"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-envoy-max-retries"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-envoy-upstream-rq-per-try-timeout-ms"), std::string::npos) << head;
}

// An internal request is marked x-envoy-internal; an external one loses the x-envoy-* headers
// Envoy strips and keeps the rest.
TEST_F(ClientHeadersE2eTest, ExternalRequestsLoseTheRoutersHeaders) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  get("/", "x-envoy-internal: true\r\nx-envoy-upstream-rq-timeout-ms: 5\r\nx-envoy-force-trace: 1\r\nx-other: kept\r\n");
  std::string head = app.lastHead();
  EXPECT_EQ(head.find("x-envoy-internal"), std::string::npos) << head;  // a client cannot claim it
  EXPECT_EQ(head.find("x-envoy-upstream-rq-timeout-ms"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-envoy-force-trace"), std::string::npos) << head;
  EXPECT_NE(head.find("x-other: kept\r\n"), std::string::npos) << head;
  get("/", kInternal + "x-envoy-force-trace: 1\r\n");
  head = app.lastHead();
  EXPECT_NE(head.find("x-envoy-internal: true\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("x-envoy-force-trace: 1\r\n"), std::string::npos) << head;  // internal: not the router's to take
}

}  // namespace
}  // namespace meshd::proxy::testing
