// Access logs end to end: the HTTP connection manager's (response flags; Envoy's default format
// with the upstream's service time) and the TCP proxy's.
#include <gtest/gtest.h>

#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "proxy/e2e_fixture.h"
#include "proxy/test_util.h"

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// Each test's log in a directory of its own, removed afterwards.
class AccessLogE2eTest : public ProxyE2eTest {
 protected:
  void SetUp() override {
    ProxyE2eTest::SetUp();
    ASSERT_NE(mkdtemp(dir_), nullptr);
    path_ = std::string(dir_) + "/access.log";
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    ProxyE2eTest::TearDown();
  }
  // An HTTP listener on port_ routed by "rc", logging to path_ in `format` (empty: Envoy's default).
  envoy::config::listener::v3::Listener loggedListener(const std::string& format) {
    return withAccessLog(httpListener("l", port_, "rc"), path_, format);
  }
  // The log once `ok` holds for it (or what it has after 10 s).
  template <typename F>
  std::string logWhen(F ok) {
    std::string text;
    eventually([&] {
      std::ifstream in(path_);
      text.assign(std::istreambuf_iterator<char>(in), {});
      return ok(text);
    });
    return text;
  }

  char dir_[32] = "/tmp/meshproxy-log-XXXXXX";
  std::string path_;
};

// As Envoy's addresses of a dual-stack socket: an IPv4 client of a listener on :: (ipv4_compat) is
// logged as IPv4, both ends, not as ::ffff:127.0.0.1.
TEST_F(AccessLogE2eTest, AnIpv4ClientOfADualStackListenerIsLoggedAsIpv4) {
  Upstream app("app");
  auto l = loggedListener("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS% %UPSTREAM_HOST%\n");
  l.mutable_address()->mutable_socket_address()->set_address("::");
  l.mutable_address()->mutable_socket_address()->set_ipv4_compat(true);
  set({staticCluster("app", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  std::string text = logWhen([](const std::string& t) { return !t.empty(); });
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "127.0.0.1 127.0.0.1:" + std::to_string(port_) + " 127.0.0.1:" + std::to_string(app.port()));
}

// URX as Envoy's retry state sets it: a response that would have been retried when none are left
// (here a 503 after the one retry); none for a 503 an upstream Envoy sent for its overload, which
// is never retried.
TEST_F(AccessLogE2eTest, RetriesRunOutOnAResponseTooButNeverForAnOverload) {
  Upstream failing("failing", 503);
  std::atomic<int> overloadedRequests{0};
  AcceptLoop overloaded([&](int fd) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, n);
    }
    overloadedRequests++;
    sendAll(fd, "HTTP/1.1 503 Service Unavailable\r\nx-envoy-overloaded: true\r\ncontent-length: 0\r\n"
                "connection: close\r\n\r\n");
  });
  set({staticCluster("failing", {failing.port()}), staticCluster("overloaded", {overloaded.port()})},
      {loggedListener("%RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(:PATH)%\n")},
      {routeConfig("rc", R"(routes { match { prefix: "/failing" } route { cluster: "failing"
         retry_policy { retry_on: "5xx" num_retries { value: 1 } retry_back_off { base_interval { nanos: 1000000 } } } } }
         routes { match { prefix: "/overloaded" } route { cluster: "overloaded"
         retry_policy { retry_on: "5xx" num_retries { value: 1 } retry_back_off { base_interval { nanos: 1000000 } } } } })")});
  await("/failing", [](auto& r) { return r.status == 503; });
  EXPECT_EQ(failing.requests(), 2);  // the try and its retry
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/overloaded").status, 503);
  EXPECT_EQ(overloadedRequests.load(), 1);
  std::string text = logWhen([](const std::string& t) { return t.find("/overloaded") != std::string::npos; });
  EXPECT_EQ(text, "503 URX /failing\n503 - /overloaded\n");
}

// As Envoy's max_retries circuit breaker (3 by default): a retry past it is not made, the attempt's
// own answer goes to the client, and the log says UO (not URX: retries were left).
TEST_F(AccessLogE2eTest, ARetryPastMaxRetriesIsNotMade) {
  Upstream failing("failing", 503);
  auto capped = staticCluster("capped", {failing.port()});
  capped.mutable_circuit_breakers()->add_thresholds()->mutable_max_retries()->set_value(0);
  set({capped}, {loggedListener("%RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(:PATH)%\n")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "capped"
         retry_policy { retry_on: "5xx" num_retries { value: 2 } } } })")});
  await("/capped", [](auto& r) { return r.status == 503; });
  EXPECT_EQ(failing.requests(), 1);
  std::string text = logWhen([](const std::string& t) { return !t.empty(); });
  EXPECT_EQ(text, "503 UO /capped\n");
  EXPECT_NE(admin("/stats").find("cluster.capped.upstream_rq_retry_overflow: 1\n"), std::string::npos) << admin("/stats");
}

// As Envoy, whose router edits the request headers the log reads: a proxied request is logged as
// it went upstream (Host and path rewritten, the original path kept), a local reply's as it came.
TEST_F(AccessLogE2eTest, TheLogShowsTheRequestAsTheRouterEditedIt) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})},
      {loggedListener("%RESPONSE_CODE% %REQ(:AUTHORITY)% %REQ(:PATH)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(X-FORWARDED-PROTO)%\n")},
      {routeConfig("rc", R"(routes { match { prefix: "/gw/" } route { cluster: "app" prefix_rewrite: "/"
         host_rewrite_literal: "app.mesh.local" } })")});
  await("/gw/x", [](auto& r) { return r.status == 200; });
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/none").status, 404);
  std::string text = logWhen([](const std::string& t) { return t.find("404") != std::string::npos; });
  EXPECT_EQ(text, "200 app.mesh.local /x /gw/x http\n404 svc /none /none http\n");
}

TEST_F(AccessLogE2eTest, AccessLogCarriesResponseFlagsAndDetails) {
  Upstream app("app");
  set({staticCluster("dead", {freePort()}), staticCluster("app", {app.port()})},
      {loggedListener("%RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(:PATH)% %RESPONSE_CODE_DETAILS% %CONNECTION_ID% %REQUEST_DURATION% "
                      "%REQUEST_TX_DURATION%\n")},
      {routeConfig("rc", R"(routes { match { prefix: "/dead" } route { cluster: "dead"
         retry_policy { retry_on: "connect-failure" num_retries { value: 1 } } } }
         routes { match { prefix: "/app" } route { cluster: "app" } })")});
  await("/dead", [](auto& r) { return r.status == 503; });
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/none").status, 404);
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/app").status, 200);
  std::string text = logWhen([](const std::string& t) { return t.find("200 - /app via_upstream ") != std::string::npos; });
  EXPECT_NE(text.find("503 UF,URX /dead upstream_reset_before_response_started{remote_connection_failure|"
                      "delayed_connect_error:_Connection_refused} "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("404 NR /none route_not_found "), std::string::npos) << text;
  // Each connection its own number (httpGet connects each time); a request without a body took 0 ms,
  // and went upstream (REQUEST_TX_DURATION, a connect included) when it went at all.
  std::regex ids("/none route_not_found ([0-9]+) 0 -\n200 - /app via_upstream ([0-9]+) 0 [0-9]+\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, ids)) << text;
  EXPECT_GT(std::stoull(m[2]), std::stoull(m[1]));
}

// A format Envoy cannot read is NACKed with Envoy's reason, and the last good listener serves on.
TEST_F(AccessLogE2eTest, AFormatEnvoyRejectsIsNacked) {
  Upstream app("app");
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })");
  set({staticCluster("app", {app.port()})}, {loggedListener("%RESPONSE_CODE%\n")}, {routes});
  await("/", [](auto& r) { return r.status == 200; });
  set({staticCluster("app", {app.port()})}, {loggedListener("%RESPONSE_CODE% %UPSTREAM_COLOR%\n")}, {routes});
  // This NACK's own reason: a NACK of anything else before it must not pass for it.
  std::string reason;
  EXPECT_TRUE(eventually([&] {
    auto p = cache_.proxies();
    if (p.size() == 1 && p[0].lastNackType == std::string(xds::kListenerType)) reason = p[0].lastNackReason;
    return reason.find("UPSTREAM_COLOR") != std::string::npos;
  })) << "last listener NACK: " << reason;
  EXPECT_EQ(reason, "listener l: Not supported field in StreamInfo: UPSTREAM_COLOR");
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").body, "app / host=svc");
  std::string text = logWhen([](const std::string& t) { return t.find("200\n") != std::string::npos; });
  EXPECT_EQ(text.find("UPSTREAM_COLOR"), std::string::npos) << text;
}

// A tcp_proxy's access log (App Mesh logging on a TCP listener): one line per connection once both
// directions ended, with no HTTP fields, as Envoy's; a connection no host took says why (UF).
TEST_F(AccessLogE2eTest, TcpProxyWritesItsAccessLog) {
  Upstream app("tcp-app");
  int dead = freePort();
  auto logged = [&](const std::string& name, int port, const std::string& cluster) {
    return withAccessLog(tcpListener(name, port, cluster), path_,
                         "%PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT%\n");
  };
  int deadPort = freePort();
  set({staticCluster("app", {app.port()}), staticCluster("dead", {dead})},
      {logged("t", port_, "app"), logged("d", deadPort, "dead")}, {});
  HttpReply r = await("/t", [](auto& r) { return r.status == 200; });
  ASSERT_EQ(r.body, "tcp-app /t host=svc");
  int fd = connectLoopback(deadPort);
  ASSERT_GE(fd, 0);
  readToClose(fd);  // the proxy closes it: no upstream
  ::close(fd);
  std::string upstream = "- 0 - app 127.0.0.1:" + std::to_string(app.port()) + " ";
  std::string refused = "- 0 UF dead 127.0.0.1:" + std::to_string(dead) + " 0 0\n";
  std::string text = logWhen([&](const std::string& t) {
    return t.find(upstream) != std::string::npos && t.find(refused) != std::string::npos;
  });
  EXPECT_NE(text.find(refused), std::string::npos) << text;
  // The bytes each way: the request went up, the reply came down.
  size_t at = text.find(upstream);
  ASSERT_NE(at, std::string::npos);
  std::istringstream counts(text.substr(at + upstream.size()));
  uint64_t received = 0, sent = 0;
  counts >> received >> sent;
  EXPECT_GT(received, 20u);
  EXPECT_GT(sent, r.body.size());
}

// Envoy's default format (no format given, as App Mesh's logging writes it) logs the upstream's
// service time from the response: %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%.
TEST_F(AccessLogE2eTest, TheDefaultFormatLogsTheUpstreamServiceTime) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {loggedListener("")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  std::regex line("\\] \"GET / HTTP/1.1\" 200 - 0 [0-9]+ [0-9]+ [0-9]+ \"-\" \"-\" \"[0-9a-f-]{36}\" \"svc\" \"127.0.0.1:" +
                  std::to_string(app.port()) + "\"\n");
  std::string text = logWhen([&](const std::string& t) { return std::regex_search(t, line); });
  EXPECT_TRUE(std::regex_search(text, line)) << text;
}

// Istio's operators: the route's name, the attempts, both ends' addresses, why a connect failed.
TEST_F(AccessLogE2eTest, RouteAttemptsAddressesAndTransportFailures) {
  Upstream app("app");
  int closed = freePort();  // nothing listens there
  set({staticCluster("app", {app.port()}), staticCluster("gone", {closed})},
      {loggedListener("%ROUTE_NAME% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% "
                      "%DOWNSTREAM_LOCAL_ADDRESS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\"\n")},
      {routeConfig("rc", R"(routes { name: "to-gone" match { prefix: "/gone" }
                                     route { cluster: "gone" retry_policy { retry_on: "connect-failure" num_retries { value: 1 } } } }
                              routes { name: "to-app" match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/gone").status, 503);
  std::string ok = "to-app 1 127.0.0.1 127.0.0.1:" + std::to_string(port_) + " \"-\"\n";
  std::string failed = "to-gone 2 ";
  std::string text = logWhen([&](const std::string& t) { return t.find(failed) != std::string::npos; });
  EXPECT_NE(text.find(ok), std::string::npos) << text;
  size_t at = text.find(failed);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NE(text.find("\"delayed connect error: Connection refused\"\n", at), std::string::npos) << text;
}

// REQ(...) of any request field, with an alternative (A?B), as Envoy's formatter.
TEST_F(AccessLogE2eTest, RequestFieldsOfAnyNameAreLogged) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {loggedListener("%REQ(X-B3-TRACEID)% %REQ(X-NONE?X-TENANT)% %REQ(X-NONE)% %REQ(:PATH)%\n")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::string request = "GET /traced HTTP/1.1\r\nhost: svc\r\nX-B3-TraceId: abc123\r\nx-tenant: t1\r\nconnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  readToClose(fd);
  ::close(fd);
  std::string text = logWhen([](const std::string& t) { return t.find("abc123 t1 - /traced\n") != std::string::npos; });
  EXPECT_NE(text.find("abc123 t1 - /traced\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace meshd::proxy
