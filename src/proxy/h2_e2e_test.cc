// HTTP/2 clients (h2c by prior knowledge) through meshproxy, as real clients see it: nghttp (Debian's
// nghttp2-client) against meshproxy's HTTP connection manager, whose AUTO codec tells HTTP/2 by the
// connection preface, forwarding to HTTP/1.1 upstreams.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

// nghttp's verbose output (frames, then the bodies) for `args`; empty when it cannot run.
std::string nghttp(const std::string& args) {
  std::string out;
  FILE* p = ::popen(("timeout 10 nghttp -v " + args + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

class H2E2eTest : public ProxyE2eTest {
 protected:
  void SetUp() override {
    if (std::system("command -v nghttp >/dev/null 2>&1") != 0) GTEST_SKIP() << "nghttp (nghttp2-client) not installed";
    ProxyE2eTest::SetUp();
  }
  std::string url(const std::string& path) { return "http://127.0.0.1:" + std::to_string(port_) + path; }
};

TEST_F(H2E2eTest, RequestsOverOneConnectionReachAnHttp1Upstream) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  // Ten concurrent streams on one connection, :authority as the Host the upstream sees.
  std::string out = nghttp("-m 10 -H ':authority: svc' " + url("/h2"));
  EXPECT_EQ(count(out, ":status: 200"), 10u) << out;
  EXPECT_EQ(count(out, "app /h2 host=svc"), 10u) << out;
  EXPECT_EQ(count(out, "recv RST_STREAM"), 0u) << out;
}

TEST_F(H2E2eTest, RequestBodyGoesUpstreamAsChunkedHttp1) {
  StreamingUpstream up({.chunks = 1});
  set({staticCluster("c", {up.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  auto file = std::filesystem::temp_directory_path() / ("h2-body-" + std::to_string(::getpid()));
  std::string payload(300 * 1024, 'p');  // past the 64 KiB initial window of nghttp's peer... and ours
  std::ofstream(file) << payload;
  std::string out = nghttp("-d " + file.string() + " " + url("/upload"));
  std::filesystem::remove(file);
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out.substr(0, 2000);
  EXPECT_EQ(up.lastBody().size(), payload.size());
  EXPECT_EQ(up.lastBody(), payload);
}

// Envoy's local replies over HTTP/2: the same status and body; to a gRPC client, trailers-only
// with grpc-status (UNAVAILABLE for a 503) and grpc-message.
TEST_F(H2E2eTest, LocalRepliesAndTheirGrpcForm) {
  envoy::config::cluster::v3::Cluster c = staticCluster("c", {freePort()});
  set({c}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 503; });
  std::string plain = nghttp(url("/x"));
  EXPECT_NE(plain.find(":status: 503"), std::string::npos) << plain;
  EXPECT_NE(plain.find("upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"),
            std::string::npos) << plain;
  std::string grpc = nghttp("-H 'content-type: application/grpc' -H 'te: trailers' " + url("/pkg.Svc/Method"));
  EXPECT_NE(grpc.find(":status: 200"), std::string::npos) << grpc;
  EXPECT_NE(grpc.find("grpc-status: 14"), std::string::npos) << grpc;
  EXPECT_NE(grpc.find("grpc-message: upstream connect error or disconnect/reset before headers. reset reason: remote "
                      "connection failure"),
            std::string::npos) << grpc;
}

TEST_F(H2E2eTest, NoRouteIs404) {
  Upstream app("app");
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/only" } route { cluster: "c" } })")});
  await("/only", [](auto& r) { return r.status == 200; });
  std::string out = nghttp(url("/elsewhere"));
  EXPECT_NE(out.find(":status: 404"), std::string::npos) << out;
}

}  // namespace
}  // namespace meshd::proxy::testing
