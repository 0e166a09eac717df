// A client's x-envoy-* retry and timeout headers, which Envoy's router honours (meshd's connection
// managers leave them to it) and does not pass on.
#include <unistd.h>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

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
  auto [retried, t1] = get("/", "x-envoy-retry-on: 5xx\r\nx-envoy-max-retries: 2\r\n");
  EXPECT_TRUE(retried.starts_with("HTTP/1.1 503")) << retried;
  EXPECT_EQ(sick.requests() - before, 3);  // once and twice again
  before = sick.requests();
  get("/", "x-envoy-retry-on: 5xx\r\n");
  EXPECT_EQ(sick.requests() - before, 2);  // Envoy's default policy: one retry
  before = sick.requests();
  get("/", "x-envoy-max-retries: 3\r\n");
  EXPECT_EQ(sick.requests() - before, 1);  // a count with nothing to retry on
}

// x-envoy-upstream-rq-timeout-ms replaces the route's timeout; the upstream never sees it.
TEST_F(ClientHeadersE2eTest, TheClientsTimeoutReplacesTheRoutes) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" timeout { seconds: 10 } } })")});
  auto [reply, took] = get("/", "x-envoy-upstream-rq-timeout-ms: 200\r\n");
  for (int i = 0; i < 100 && reply.empty(); ++i) {  // until the listener is there
    std::this_thread::sleep_for(50ms);
    std::tie(reply, took) = get("/", "x-envoy-upstream-rq-timeout-ms: 200\r\n");
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 504")) << reply;
  EXPECT_NE(reply.find("\r\n\r\nupstream request timeout"), std::string::npos) << reply;
  EXPECT_LT(took, 2000ms);
  std::string head = slow.lastHead();
  EXPECT_EQ(head.find("x-envoy-upstream-rq-timeout-ms"), std::string::npos) << head;
  EXPECT_NE(head.find("x-envoy-expected-rq-timeout-ms: 200\r\n"), std::string::npos) << head;  // the router's own
}

// A per-try timeout from the client makes a slow attempt retriable as a reset.
TEST_F(ClientHeadersE2eTest, TheClientsPerTryTimeoutIsRetried) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("slow", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "slow" } })")});
  std::string fields = "x-envoy-retry-on: reset\r\nx-envoy-max-retries: 1\r\nx-envoy-upstream-rq-per-try-timeout-ms: 150\r\n";
  auto [reply, took] = get("/", fields);
  for (int i = 0; i < 100 && reply.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    std::tie(reply, took) = get("/", fields);
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 504")) << reply;
  EXPECT_LT(took, 2000ms);
  EXPECT_TRUE(eventually([&] { return slow.requests() >= 2; }));  // the first try and its retry
  std::string head = slow.lastHead();
  EXPECT_EQ(head.find("x-envoy-retry-on"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-envoy-max-retries"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-envoy-upstream-rq-per-try-timeout-ms"), std::string::npos) << head;
}

}  // namespace
}  // namespace meshd::proxy::testing
