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

TEST_F(ProxyE2eTest, AccessLogCarriesResponseFlags) {
  char dir[] = "/tmp/meshproxy-log-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/access.log";
  auto l = httpListener("l", port_, "rc");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  envoy::extensions::access_loggers::file::v3::FileAccessLog file;
  file.set_path(path);
  file.mutable_log_format()->mutable_text_format_source()->set_inline_string("%RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(:PATH)%\n");
  m.add_access_log()->mutable_typed_config()->PackFrom(file);
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("dead", {freePort()})}, {l},
      {routeConfig("rc", R"(routes { match { prefix: "/dead" } route { cluster: "dead"
         retry_policy { retry_on: "connect-failure" num_retries { value: 1 } } } })")});
  await("/dead", [](auto& r) { return r.status == 503; });
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/none").status, 404);
  std::string text;
  eventually([&] {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
    return text.find("404 NR /none\n") != std::string::npos;
  });
  EXPECT_NE(text.find("503 UF,URX /dead\n"), std::string::npos) << text;
  EXPECT_NE(text.find("404 NR /none\n"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

// A tcp_proxy's access log (App Mesh logging on a TCP listener): one line per connection once both
// directions ended, with no HTTP fields, as Envoy's; a connection no host took says why (UF).
TEST_F(ProxyE2eTest, TcpProxyWritesItsAccessLog) {
  char dir[] = "/tmp/meshproxy-log-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/tcp.log";
  Upstream app("tcp-app");
  int dead = freePort();
  auto logged = [&](const std::string& name, int port, const std::string& cluster) {
    auto l = tcpListener(name, port, cluster);
    envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
    l.filter_chains(0).filters(0).typed_config().UnpackTo(&t);
    envoy::extensions::access_loggers::file::v3::FileAccessLog file;
    file.set_path(path);
    file.mutable_log_format()->mutable_text_format_source()->set_inline_string(
        "%PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT%\n");
    t.add_access_log()->mutable_typed_config()->PackFrom(file);
    l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(t);
    return l;
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
  std::string text;
  EXPECT_TRUE(eventually([&] {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
    return text.find(upstream) != std::string::npos && text.find("- 0 UF dead 127.0.0.1:" + std::to_string(dead) + " 0 0\n") != std::string::npos;
  })) << text;
  // The bytes each way: the request went up, the reply came down.
  size_t at = text.find(upstream);
  ASSERT_NE(at, std::string::npos);
  std::istringstream counts(text.substr(at + upstream.size()));
  uint64_t received = 0, sent = 0;
  counts >> received >> sent;
  EXPECT_GT(received, 20u);
  EXPECT_GT(sent, r.body.size());
  std::filesystem::remove_all(dir);
}

// Envoy's default format (no format given, as App Mesh's logging writes it) logs the upstream's
// service time from the response: %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%.
TEST_F(ProxyE2eTest, TheDefaultFormatLogsTheUpstreamServiceTime) {
  char dir[] = "/tmp/meshproxy-log-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/access.log";
  Upstream app("app");
  auto l = httpListener("l", port_, "rc");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  envoy::extensions::access_loggers::file::v3::FileAccessLog file;
  file.set_path(path);
  m.add_access_log()->mutable_typed_config()->PackFrom(file);
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("app", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  std::string text;
  std::regex line("\\] \"GET / HTTP/1.1\" 200 - 0 [0-9]+ [0-9]+ [0-9]+ \"-\" \"-\" \"[0-9a-f-]{36}\" \"svc\" \"127.0.0.1:" +
                  std::to_string(app.port()) + "\"\n");
  EXPECT_TRUE(eventually([&] {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
    return std::regex_search(text, line);
  })) << text;
  std::filesystem::remove_all(dir);
}

// REQ(...) of any request field, with an alternative (A?B), as Envoy's formatter.
TEST_F(ProxyE2eTest, RequestFieldsOfAnyNameAreLogged) {
  char dir[] = "/tmp/meshproxy-log-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/access.log";
  Upstream app("app");
  auto l = httpListener("l", port_, "rc");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  envoy::extensions::access_loggers::file::v3::FileAccessLog file;
  file.set_path(path);
  file.mutable_log_format()->mutable_text_format_source()->set_inline_string(
      "%REQ(X-B3-TRACEID)% %REQ(X-NONE?X-TENANT)% %REQ(X-NONE)% %REQ(:PATH)%\n");
  m.add_access_log()->mutable_typed_config()->PackFrom(file);
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("app", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::string request = "GET /traced HTTP/1.1\r\nhost: svc\r\nX-B3-TraceId: abc123\r\nx-tenant: t1\r\nconnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  readToClose(fd);
  ::close(fd);
  std::string text;
  EXPECT_TRUE(eventually([&] {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
    return text.find("abc123 t1 - /traced\n") != std::string::npos;
  })) << text;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meshd::proxy
