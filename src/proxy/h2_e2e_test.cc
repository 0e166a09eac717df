// HTTP/2 through meshproxy, as real clients see it: nghttp (Debian's nghttp2-client) against
// meshproxy's HTTP connection manager, whose AUTO codec tells HTTP/2 by the connection preface,
// forwarding to HTTP/1.1 upstreams and to HTTP/2 ones (clusters with http2_protocol_options, as
// meshd writes for App Mesh http2 and grpc listeners).
#include <sys/socket.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <google/protobuf/text_format.h>

#include "proxy/e2e_fixture.h"
#include "proxy/h2/frame_client.h"
#include "proxy/h2/upstream_test_server.h"

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
  // The connection manager's and the router's headers, as Envoy's.
  EXPECT_EQ(count(out, "server: envoy"), 10u) << out;
  EXPECT_EQ(count(out, "date: "), 10u) << out;
  EXPECT_EQ(count(out, "x-envoy-upstream-service-time: "), 10u) << out;
  // The connection manager's count of them by codec: one HTTP/2 connection, ten HTTP/2 requests
  // (the await's HTTP/1.1 ones aside), none in flight now.
  std::string stats = admin("/stats");
  EXPECT_NE(stats.find("http.ingress.downstream_cx_http2_total: 1\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("http.ingress.downstream_rq_http2_total: 10\n"), std::string::npos) << stats;
  EXPECT_TRUE(eventually([&] { return admin("/stats").find("http.ingress.downstream_rq_active: 0\n") != std::string::npos; }))
      << admin("/stats");
}

// A request whose HEADERS end the stream has no body upstream either, as Envoy's HTTP/1 codec
// writes it: no transfer-encoding; "content-length: 0" unless the method has no body by nature.
TEST_F(H2E2eTest, ARequestWithoutBodyGoesUpstreamWithoutFraming) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  int before = app.requests();
  std::string out = nghttp(url("/get"));
  EXPECT_EQ(count(out, "app /get host="), 1u) << out;
  std::string head = app.lastHead();
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  out = nghttp("-H ':method: POST' " + url("/post"));
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
  head = app.lastHead();
  EXPECT_TRUE(head.starts_with("POST /post HTTP/1.1\r\n")) << head;
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
  EXPECT_NE(head.find("content-length: 0\r\n"), std::string::npos) << head;
  EXPECT_EQ(app.requests(), before + 2);  // no stray "0\r\n\r\n" taken for a request
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
  EXPECT_EQ(count(plain, "server: envoy"), 1u) << plain;
  EXPECT_EQ(count(grpc, "server: envoy"), 1u) << grpc;
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

// A cluster whose hosts speak HTTP/2 (h2c), as meshd writes it.
TEST_F(H2E2eTest, Http1ClientsReachAnHttp2UpstreamOverOneConnection) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  HttpReply r = await("/x", [](auto& r) { return r.status == 200; });
  // No content-length from the upstream: to an HTTP/1.1 client the body goes chunked.
  EXPECT_NE(r.head.find("transfer-encoding: chunked"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "5\r\nhello\r\n0\r\n\r\n");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/x").body, "5\r\nhello\r\n0\r\n\r\n");
  // One per worker that served any of the six (SO_REUSEPORT may give them all to one of the two),
  // each carrying its requests as streams.
  int connections = up.connections();
  EXPECT_TRUE(connections == 1 || connections == 2) << connections;
  std::string n = std::to_string(connections);
  EXPECT_NE(admin("/stats").find("cluster.c.upstream_cx_http2_total: " + n), std::string::npos) << admin("/stats");
  EXPECT_NE(admin("/stats").find("cluster.c.upstream_cx_total: " + n), std::string::npos);
  // As Envoy's pool: its connections are active, and each request that had to wait for one was
  // pending meanwhile (at least the one that made it).
  EXPECT_NE(admin("/stats").find("cluster.c.upstream_cx_active: " + n + "\n"), std::string::npos) << admin("/stats");
  EXPECT_NE(admin("/stats").find("cluster.c.upstream_rq_pending_active: 0\n"), std::string::npos);
  EXPECT_EQ(admin("/stats").find("cluster.c.upstream_rq_pending_total: 0\n"), std::string::npos);
  auto heads = up.heads();
  ASSERT_FALSE(heads.empty());
  EXPECT_EQ(heads.back()[0], (std::pair<std::string, std::string>{":method", "GET"}));
  bool authority = false;
  for (const auto& [name, value] : heads.back()) authority |= name == ":authority" && value == "svc";
  EXPECT_TRUE(authority);
}

// gRPC's shape end to end: an HTTP/2 client's request body goes up a stream, the response body
// and its trailers (where gRPC keeps grpc-status) come back on the client's stream.
TEST_F(H2E2eTest, BodiesAndTrailersCrossBetweenHttp2ClientAndUpstream) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  auto file = std::filesystem::temp_directory_path() / ("h2-echo-" + std::to_string(::getpid()));
  std::ofstream(file) << std::string(200 * 1024, 'e');
  std::string out = nghttp("-H 'content-type: application/grpc' -d " + file.string() + " " + url("/echo"));
  std::filesystem::remove(file);
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out.substr(0, 3000);
  EXPECT_NE(out.find("x-length: 204800"), std::string::npos) << out.substr(0, 3000);  // the upstream's trailer
  EXPECT_NE(out.find(std::string(1000, 'e')), std::string::npos);
}

// The access log's GRPC_STATUS, as Envoy's: the trailers' grpc-status, else the HTTP status mapped
// (a local reply's 503: Unavailable; a 200 without one: Unknown); "-" for a request that is not gRPC.
// TRAILER(...) reads the response's trailers.
TEST_F(H2E2eTest, TheAccessLogTellsEachGrpcRequestsStatus) {
  h2::testing::UpstreamTestServer up;
  std::string path = std::filesystem::temp_directory_path() / ("h2-grpc-log-" + std::to_string(::getpid()));
  auto l = withAccessLog(httpListener("l", port_, "rc"), path,
                         "%REQ(:PATH)% %RESPONSE_CODE% %GRPC_STATUS% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS_NUMBER% "
                         "%UPSTREAM_PROTOCOL% %TRAILER(X-LENGTH)%\n");
  set({http2Cluster("c", up.endpoint().port()), staticCluster("dead", {freePort()})}, {l},
      {routeConfig("rc", R"(routes { match { prefix: "/dead" } route { cluster: "dead" } }
                            routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  std::string grpc = "-H 'content-type: application/grpc' -H 'te: trailers' ";
  nghttp(grpc + url("/grpc.health.v1.Health/Check"));
  // No body, then trailers (as a gRPC stream of no messages): the trailers end the client's stream.
  auto started = std::chrono::steady_clock::now();
  std::string empty = nghttp(grpc + url("/echo"));
  EXPECT_NE(empty.find("x-length: 0"), std::string::npos) << empty;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  HttpReply overHttp1 = httpGet("127.0.0.1", port_, "/echo");
  EXPECT_EQ(overHttp1.status, 200);
  EXPECT_EQ(overHttp1.body, "0\r\n\r\n");  // chunked, no chunk: HTTP/1.1 drops the trailers, as Envoy
  nghttp(grpc + url("/dead/pkg.Svc/Call"));
  nghttp(url("/echo"));
  std::string text;
  eventually([&] {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
    return count(text, "\n") >= 6;
  });
  std::filesystem::remove(path);
  EXPECT_NE(text.find("/grpc.health.v1.Health/Check 200 OK OK 0 HTTP/2 -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("/echo 200 Unknown UNKNOWN 2 HTTP/2 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("/dead/pkg.Svc/Call 503 Unavailable UNAVAILABLE 14 HTTP/1.1 -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("/echo 200 - - - HTTP/2 0\n"), std::string::npos) << text;
}

// A host's rq_success and rq_error (/clusters) for gRPC requests, as Envoy's router: a response of
// HTTP 200 is judged by its grpc-status (trailers, or a trailers-only head) mapped to HTTP; the
// same response to a request that is not gRPC is a success by its HTTP status.
TEST_F(H2E2eTest, AGrpcResponseCountsForItsHostByItsGrpcStatus) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  std::string host = "c::127.0.0.1:" + std::to_string(up.endpoint().port()) + "::";
  auto counter = [&](const std::string& name) {
    std::string text = admin("/clusters");
    size_t at = text.find(host + name + "::");
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + host.size() + name.size() + 2));
  };
  int success = counter("rq_success"), error = counter("rq_error");
  ASSERT_GE(success, 1);
  std::string grpc = "-H 'content-type: application/grpc' -H 'te: trailers' ";
  for (std::string path : {"/grpc/0", "/grpc-only/5"}) {  // OK; NOT_FOUND is a 404: no error
    EXPECT_NE(nghttp(grpc + url(path)).find(":status: 200"), std::string::npos) << path;
  }
  for (std::string path : {"/grpc/14", "/grpc-only/14", "/grpc/13", "/grpc/nonsense"}) {
    EXPECT_NE(nghttp(grpc + url(path)).find(":status: 200"), std::string::npos) << path;
  }
  nghttp(grpc + url("/status/200"));  // a body that ends without trailers: an error
  nghttp(url("/grpc/14"));            // not a gRPC request: its 200 is a success
  EXPECT_TRUE(eventually([&] { return counter("rq_success") == success + 3 && counter("rq_error") == error + 5; }))
      << admin("/clusters");
}

// Outlier detection counts a gRPC request's trailers-only grpc-status as its HTTP equivalent
// (UNAVAILABLE: 503, a 5xx), as Envoy's router; a grpc-status in trailers it does not count.
TEST_F(H2E2eTest, TrailersOnlyGrpcFailuresEjectAHost) {
  h2::testing::UpstreamTestServer up;
  auto c = http2Cluster("c", up.endpoint().port());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(consecutive_5xx { value: 3 } interval { seconds: 60 } base_ejection_time { seconds: 60 }
         max_ejection_percent { value: 100 })",
      c.mutable_outlier_detection()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  std::string grpc = "-H 'content-type: application/grpc' -H 'te: trailers' ";
  for (int i = 0; i < 4; ++i) nghttp(grpc + url("/grpc/14"));      // would eject, were trailers counted
  for (int i = 0; i < 2; ++i) nghttp(grpc + url("/grpc-only/14"));  // two of three
  std::this_thread::sleep_for(300ms);  // an ejection reaches /clusters through the main thread
  std::string ejected = "::health_flags::/failed_outlier_check";
  EXPECT_EQ(admin("/clusters").find(ejected), std::string::npos) << admin("/clusters");
  nghttp(grpc + url("/grpc-only/14"));
  EXPECT_TRUE(eventually([&] { return admin("/clusters").find(ejected) != std::string::npos; })) << admin("/clusters");
  EXPECT_NE(admin("/stats").find("cluster.c.outlier_detection.ejections_enforced_consecutive_5xx: 1\n"), std::string::npos);
}

// An HTTP/2 upstream that resets the stream before answering: Envoy's reply names the reason.
TEST_F(H2E2eTest, UpstreamStreamResetIs503RemoteReset) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  HttpReply r = httpGet("127.0.0.1", port_, "/reset");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "upstream connect error or disconnect/reset before headers. reset reason: remote reset");
}

// A stream whose response went out whole is finished for the router too: 2,000 requests one after
// another on one connection stay within the cluster's 1,024 requests in flight (a stream waiting
// for a drain notice that never came for a closed stream used to hold its slot).
TEST_F(H2E2eTest, FinishedStreamsReleaseTheirCircuitBreakerSlot) {
  if (std::system("command -v h2load >/dev/null 2>&1") != 0) GTEST_SKIP() << "h2load (nghttp2-client) not installed";
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  std::string out;
  FILE* p = ::popen(("timeout 60 h2load -n 2000 -c 1 -m 1 " + url("/seq") + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  EXPECT_NE(out.find("status codes: 2000 2xx"), std::string::npos) << out;
}

// An HTTP/2 upstream whose connection closes in the middle of a body: the client's stream is reset
// (as Envoy resets it once the head went out), at once rather than at the client's own timeout.
TEST_F(H2E2eTest, AnUpstreamGoneMidBodyResetsTheClientsStream) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  auto start = std::chrono::steady_clock::now();
  std::string out = nghttp(url("/close"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
  EXPECT_NE(out.find("recv RST_STREAM"), std::string::npos) << out;
  EXPECT_LT(took, 3s) << out;
}

// App Mesh's stream-error retry event is Envoy's refused-stream: a stream the upstream refused (never
// processed) is tried again, and the reply says the latest attempt's reason.
TEST_F(H2E2eTest, RefusedStreamsAreRetriedWithRefusedStream) {
  h2::testing::UpstreamTestServer up;
  set({http2Cluster("c", up.endpoint().port())}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c"
         retry_policy { retry_on: "refused-stream" num_retries { value: 2 } } } })")});
  await("/x", [](auto& r) { return r.status == 200; });
  int before = up.requests();
  HttpReply r = httpGet("127.0.0.1", port_, "/refuse");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
                    "remote refused stream reset");
  EXPECT_EQ(up.requests() - before, 3);  // the first attempt and two retries
}

// An HTTP/2 client silent in the middle of its body: 408 "stream timeout" on its stream, as Envoy's
// stream idle timer answers (here the route's idle_timeout), spoken frame by frame with our codec.
TEST_F(H2E2eTest, AStalledRequestBodyIs408StreamTimeout) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" idle_timeout { nanos: 300000000 } } })")});
  ASSERT_TRUE(eventually([&] { return httpGet("127.0.0.1", port_, "/").status == 200; }));
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  auto start = std::chrono::steady_clock::now();
  h2::StreamId id = client.codec().submitRequest(
      {{":method", "POST"}, {":scheme", "http"}, {":authority", "svc"}, {":path", "/upload"}, {"content-length", "10"}},
      false);
  ASSERT_NE(id, 0);
  client.codec().submitData(id, "abc", false);  // three bytes of ten, then silence
  ASSERT_TRUE(client.flush());
  auto& events = client.events;
  while (!events.streams[id].ended && !events.streams[id].reset && client.pump()) {
  }
  auto took = std::chrono::steady_clock::now() - start;
  const auto& s = events.streams[id];
  ASSERT_FALSE(s.heads.empty());
  EXPECT_EQ(s.heads.back().front(), (std::pair<std::string, std::string>{":status", "408"}));
  EXPECT_EQ(s.body, "stream timeout");
  EXPECT_GT(took, 250ms);
  EXPECT_LT(took, 2s);
  EXPECT_NE(admin("/stats").find("downstream_rq_idle_timeout: 1"), std::string::npos);
}


// An HTTP/2 connection without streams for the connection manager's idle_timeout drains, as Envoy's:
// a GOAWAY notice, then after drain_timeout the final GOAWAY, and it closes.
TEST_F(H2E2eTest, AConnectionWithoutStreamsDrainsAtTheIdleTimeout) {
  Upstream app("app", 200, 0ms, /*keepAlive=*/true);
  auto l = httpListener("l", port_, "rc");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  m.mutable_common_http_protocol_options()->mutable_idle_timeout()->set_nanos(300000000);
  m.mutable_drain_timeout()->set_nanos(500000000);
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("c", {app.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(eventually([&] { return httpGet("127.0.0.1", port_, "/").status == 200; }));
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  h2::StreamId id =
      client.codec().submitRequest({{":method", "GET"}, {":scheme", "http"}, {":authority", "svc"}, {":path", "/"}}, true);
  ASSERT_NE(id, 0);
  ASSERT_TRUE(client.flush());
  auto& events = client.events;
  std::optional<std::chrono::steady_clock::time_point> answered;
  while (client.pump()) {
    if (!answered && events.streams[id].ended) answered = std::chrono::steady_clock::now();
  }
  ASSERT_TRUE(answered);
  auto idleFor = std::chrono::steady_clock::now() - *answered;
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(events.streams[id].heads.front().front(), (std::pair<std::string, std::string>{":status", "200"}));
  ASSERT_TRUE(events.goAway);
  EXPECT_EQ(events.goAway->lastStreamId, 0x7fffffffu);  // the notice
  // The final GOAWAY (NO_ERROR) names the last stream served.
  EXPECT_NE(client.raw.find(std::string("\0\0\x08\x07\0\0\0\0\0\0\0\0\x01\0\0\0\0", 17)), std::string::npos);
  EXPECT_GT(idleFor, 750ms);
  EXPECT_LT(idleFor, 3s);
  EXPECT_NE(admin("/stats").find("http.ingress.downstream_cx_idle_timeout: 1\n"), std::string::npos);
}


// App Mesh's grpc health check, as Envoy makes it: grpc.health.v1.Health/Check over HTTP/2 to each
// host; SERVING passes, any other status fails.
TEST_F(H2E2eTest, GrpcHealthChecksAskEachHostsHealthService) {
  h2::testing::UpstreamTestServer serving, notServing;
  notServing.healthStatus(2);
  auto c = http2Cluster("c", serving.endpoint().port());
  *c.mutable_load_assignment()->mutable_endpoints(0)->add_lb_endpoints() =
      http2Cluster("c", notServing.endpoint().port()).load_assignment().endpoints(0).lb_endpoints(0);
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { seconds: 1 } interval { seconds: 30 } unhealthy_threshold { value: 2 } healthy_threshold { value: 2 } "
      "grpc_health_check {}", c.add_health_checks()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(healthSettles({{"c", serving.endpoint().port(), "healthy"},
                             {"c", notServing.endpoint().port(), "/failed_active_hc"}}));
  auto heads = serving.heads();
  ASSERT_FALSE(heads.empty());
  std::map<std::string, std::string> head(heads.front().begin(), heads.front().end());
  EXPECT_EQ(head[":method"], "POST");
  EXPECT_EQ(head[":path"], "/grpc.health.v1.Health/Check");
  EXPECT_EQ(head[":authority"], "c");  // the cluster's name, as Envoy
  EXPECT_EQ(head["content-type"], "application/grpc");
  EXPECT_EQ(head["te"], "trailers");
  EXPECT_EQ(head["user-agent"], "Envoy/HC");
  EXPECT_EQ(head["grpc-timeout"], "1000m");
}

// An http_health_check with codec_client_type HTTP2 (App Mesh's http2 health check) speaks HTTP/2
// to the host, which may know no HTTP/1.1 at all.
TEST_F(H2E2eTest, Http2HealthChecksSpeakHttp2) {
  h2::testing::UpstreamTestServer good, sick;
  auto checked = [](int port, const std::string& path) {
    auto c = http2Cluster("c" + std::to_string(port), port);
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        "timeout { seconds: 1 } interval { seconds: 30 } unhealthy_threshold { value: 2 } healthy_threshold { value: 2 } "
        "http_health_check { path: \"" + path + "\" codec_client_type: HTTP2 }", c.add_health_checks()));
    return c;
  };
  int g = good.endpoint().port(), s = sick.endpoint().port();
  set({checked(g, "/ping"), checked(s, "/status/503")}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(healthSettles({{"c" + std::to_string(g), g, "healthy"}, {"c" + std::to_string(s), s, "/failed_active_hc"}}));
  auto heads = good.heads();
  ASSERT_FALSE(heads.empty());
  std::map<std::string, std::string> head(heads.front().begin(), heads.front().end());
  EXPECT_EQ(head[":path"], "/ping");
  EXPECT_EQ(head[":authority"], "c" + std::to_string(g));
}

// As Envoy, an answer that fails (here NOT_SERVING) takes a host out at the first such check;
// unhealthy_threshold (10 here, 10 s at this interval) counts only network failures. (A cluster
// without traffic is checked every no_traffic_interval: 1 s here too.)
TEST_F(H2E2eTest, AFailingAnswerTakesAHostOutAtOnce) {
  h2::testing::UpstreamTestServer up;
  auto c = http2Cluster("c", up.endpoint().port());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { seconds: 1 } interval { seconds: 1 } no_traffic_interval { seconds: 1 } unhealthy_threshold { value: 10 } "
      "healthy_threshold { value: 1 } grpc_health_check {}", c.add_health_checks()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(healthSettles({{"c", up.endpoint().port(), "healthy"}}));
  up.healthStatus(2);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(healthSettles({{"c", up.endpoint().port(), "/failed_active_hc"}}, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

// As Envoy's (reuse_connection, true by default): a gRPC or HTTP/2 check makes its probes on one
// connection while the host keeps it open.
TEST_F(H2E2eTest, Http2HealthChecksReuseTheirConnection) {
  h2::testing::UpstreamTestServer up;
  auto c = http2Cluster("c", up.endpoint().port());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { seconds: 1 } interval { nanos: 50000000 } no_traffic_interval { nanos: 50000000 } grpc_health_check {}",
      c.add_health_checks()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(eventually([&] { return up.requests() >= 5; }));
  EXPECT_EQ(up.connections(), 1);
}

// As Envoy's gRPC health checker: a check that times out resets its stream, not the connection,
// and the timeouts count as network failures toward unhealthy_threshold.
TEST_F(H2E2eTest, AGrpcHealthCheckTimeoutKeepsItsConnection) {
  h2::testing::UpstreamTestServer up;
  up.healthDelay(2000);
  auto c = http2Cluster("c", up.endpoint().port());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { nanos: 150000000 } interval { nanos: 50000000 } no_traffic_interval { nanos: 50000000 } "
      "unhealthy_threshold { value: 2 } grpc_health_check {}", c.add_health_checks()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  ASSERT_TRUE(healthSettles({{"c", up.endpoint().port(), "/failed_active_hc"}}));
  ASSERT_TRUE(eventually([&] { return up.requests() >= 3; }));
  EXPECT_EQ(up.connections(), 1);
  EXPECT_NE(admin("/stats").find("cluster.c.health_check.network_failure: "), std::string::npos);
  EXPECT_EQ(admin("/stats").find("cluster.c.health_check.network_failure: 0\n"), std::string::npos);
}

}  // namespace
}  // namespace meshd::proxy::testing
