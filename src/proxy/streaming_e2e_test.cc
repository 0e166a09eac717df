// meshproxy streams bodies as Envoy does: a chunked request reaches the upstream as it arrives, a
// chunked response reaches the client as the upstream produces it, a body bigger than any buffer
// passes with bounded memory, and retries still resend a small body. Also least request balancing,
// and the connection manager's headers, upgrades and idle timeout.
#include <gtest/gtest.h>

#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>

#include <regex>

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

// Reads from `fd` into `in` until `until` holds; false when the connection ended first.
template <typename F>
bool readUntil(int fd, std::string& in, F until) {
  char buf[65536];
  while (!until()) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
  }
  return true;
}

uint64_t residentBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

class StreamingE2eTest : public ProxyE2eTest {
 protected:
  void serve(const std::vector<int>& ports, const std::string& routeExtra = "", bool leastRequest = false) {
    auto c = staticCluster("c", ports);
    if (leastRequest) c.set_lb_policy(envoy::config::cluster::v3::Cluster::LEAST_REQUEST);
    set({c}, {httpListener("l", port_, "rc")},
        {routeConfig("rc", "routes { match { prefix: \"/\" } route { cluster: \"c\" " + routeExtra + " } }")});
  }
};

TEST_F(StreamingE2eTest, ChunkedRequestBodyReachesTheUpstreamAsItArrives) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "POST /upload HTTP/1.1\r\nhost: svc\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
  // The first chunk arrives upstream while the client still holds back the rest of its body.
  ASSERT_TRUE(eventually([&] { return up.firstBodyByteAt() != std::chrono::steady_clock::time_point{}; }, 3s));
  sendAll(fd, "6\r\n world\r\n0\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  EXPECT_EQ(in.substr(0, 12), "HTTP/1.1 200");
  EXPECT_EQ(up.lastBody(), "hello world");
}

TEST_F(StreamingE2eTest, ChunkedResponseReachesTheClientAsItIsProduced) {
  StreamingUpstream up({.chunks = 3, .chunkSize = 5, .interval = 400ms});
  serve({up.port()});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /stream HTTP/1.1\r\nhost: svc\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("aaaaa") != std::string::npos; })) << in;
  // The first chunk is here while the upstream has yet to produce the last one.
  EXPECT_EQ(up.finishedAt(), std::chrono::steady_clock::time_point{});
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("\r\n0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  EXPECT_NE(in.find("transfer-encoding: chunked\r\n"), std::string::npos) << in;
  std::string body = in.substr(in.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "5\r\naaaaa\r\n5\r\nbbbbb\r\n5\r\nccccc\r\n0\r\n\r\n");
}

// The route's idle_timeout once the response has started: each piece that reaches the client
// restarts it (a slow but steady body passes); a silence longer than it resets the stream, which
// for HTTP/1.1 closes the connection (Envoy's stream idle timeout, SI).
TEST_F(StreamingE2eTest, RouteIdleTimeoutCutsAStalledResponseOnly) {
  StreamingUpstream steady({.chunks = 4, .chunkSize = 5, .interval = 150ms});
  StreamingUpstream stalled({.chunks = 2, .chunkSize = 5, .interval = 1000ms});
  set({staticCluster("steady", {steady.port()}), staticCluster("stalled", {stalled.port()})},
      {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/steady" } route { cluster: "steady" idle_timeout { nanos: 400000000 } } }
                            routes { match { prefix: "/stalled" } route { cluster: "stalled" idle_timeout { nanos: 400000000 } } })")});
  await("/steady", [](auto& r) { return r.status == 200; });
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/steady").body, "5\r\naaaaa\r\n5\r\nbbbbb\r\n5\r\nccccc\r\n5\r\nddddd\r\n0\r\n\r\n");

  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  timeval bound{5, 0};  // a proxy that never cuts it must not hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  auto start = std::chrono::steady_clock::now();
  sendAll(fd, "GET /stalled HTTP/1.1\r\nhost: svc\r\n\r\n");
  std::string in;
  readUntil(fd, in, [] { return false; });  // to the connection's end
  ::close(fd);
  EXPECT_NE(in.find("HTTP/1.1 200"), std::string::npos) << in;
  EXPECT_EQ(in.find("bbbbb"), std::string::npos) << in;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
  EXPECT_NE(admin("/stats").find("downstream_rq_idle_timeout: 1"), std::string::npos);
}

// The idle timer runs while the client's body arrives too: a client that stops in the middle of its
// body gets Envoy's 408 "stream timeout" (not the 504 of a request that had ended), and the
// connection closes, since the rest of that body would otherwise be read as the next request.
TEST_F(StreamingE2eTest, RouteIdleTimeoutAnswersAStalledRequestBody408) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()}, "idle_timeout { nanos: 300000000 }");
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  timeval bound{5, 0};  // a proxy that never answers must not hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  auto start = std::chrono::steady_clock::now();
  // Three bytes of ten, then silence; each piece before the silence restarts the timer.
  sendAll(fd, "POST /upload HTTP/1.1\r\nhost: svc\r\ncontent-length: 10\r\n\r\nab");
  std::this_thread::sleep_for(200ms);
  sendAll(fd, "c");
  std::string in;
  readUntil(fd, in, [] { return false; });  // to the connection's end
  ::close(fd);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(in.substr(0, in.find("\r\n")), "HTTP/1.1 408 Request Timeout") << in;
  EXPECT_NE(in.find("content-length: 14\r\n"), std::string::npos) << in;
  EXPECT_NE(in.find("content-type: text/plain\r\n"), std::string::npos) << in;
  EXPECT_NE(in.find("connection: close\r\n"), std::string::npos) << in;
  EXPECT_EQ(in.substr(in.find("\r\n\r\n") + 4), "stream timeout");
  EXPECT_GT(took, 450ms);  // 200 ms, then the 300 ms timer restarted by the last byte
  EXPECT_LT(took, 2s);
  EXPECT_NE(admin("/stats").find("downstream_rq_idle_timeout: 1"), std::string::npos);
}

TEST_F(StreamingE2eTest, HundredMiBResponsePassesWithBoundedMemory) {
  constexpr uint64_t kSize = 100ull << 20;
  StreamingUpstream up({.contentLength = kSize});
  serve({up.port()});
  // Ready once a HEAD (no body to carry) gets the upstream's head through.
  ASSERT_TRUE(eventually([&] {
    int probe = connectLoopback(port_);
    if (probe < 0) return false;
    sendAll(probe, "HEAD / HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n\r\n");
    std::string in;
    readUntil(probe, in, [] { return false; });
    ::close(probe);
    return in.rfind("HTTP/1.1 200", 0) == 0 && in.find("content-length: 104857600") != std::string::npos;
  }));
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  uint64_t before = residentBytes(), peak = before;
  sendAll(fd, "GET /big HTTP/1.1\r\nhost: svc\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("\r\n\r\n") != std::string::npos; }));
  std::string head = in.substr(0, in.find("\r\n\r\n") + 4);
  EXPECT_NE(head.find("content-length: 104857600\r\n"), std::string::npos) << head;
  uint64_t received = in.size() - head.size();
  char buf[1 << 16];
  for (int i = 0; received < kSize; ++i) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "after " << received << " bytes";
    received += static_cast<uint64_t>(n);
    if (i % 64 == 0) peak = std::max(peak, residentBytes());
  }
  ::close(fd);
  EXPECT_EQ(received, kSize);
  // The proxy holds a piece at a time (the upstream's 1 MiB send buffer is the biggest thing here).
  EXPECT_LT(peak - before, 32ull << 20) << "resident grew from " << before << " to " << peak;
}

TEST_F(StreamingE2eTest, SmallBodiesAreRetriedAndStreamedOnesAreNot) {
  StreamingUpstream bad({.status = 503, .chunks = 0});
  serve({bad.port()}, "retry_policy { retry_on: \"5xx\" num_retries { value: 1 } }");
  await("/", [](auto& r) { return r.status == 503; });
  auto post = [&](const std::string& body) {
    int fd = connectLoopback(port_);
    sendAll(fd, "POST / HTTP/1.1\r\nhost: svc\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    std::string in;
    readUntil(fd, in, [&] { return in.find("\r\n\r\n0\r\n\r\n") != std::string::npos; });
    ::close(fd);
    return in;
  };
  int before = bad.requests();
  EXPECT_EQ(post("payload").substr(0, 12), "HTTP/1.1 503");
  EXPECT_EQ(bad.requests(), before + 2);  // tried, then retried with the body it kept
  EXPECT_EQ(bad.lastBody(), "payload");
  before = bad.requests();
  std::string big(2 << 20, 'y');  // past the 1 MiB retry buffer: streamed, so not retried
  EXPECT_EQ(post(big).substr(0, 12), "HTTP/1.1 503");
  EXPECT_EQ(bad.requests(), before + 1);
  EXPECT_EQ(bad.lastBody().size(), big.size());
}

TEST_F(StreamingE2eTest, RetryResendsASmallBodyToTheNextHost) {
  StreamingUpstream bad({.status = 503, .chunks = 0}), good({.chunks = 1});
  serve({bad.port(), good.port()}, "retry_policy { retry_on: \"5xx\" num_retries { value: 1 } }");
  await("/", [](auto& r) { return r.status == 200; });
  for (int i = 0; i < 4; ++i) {
    int fd = connectLoopback(port_);
    sendAll(fd, "POST / HTTP/1.1\r\nhost: svc\r\ncontent-length: 4\r\n\r\nbody");
    std::string in;
    ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
    ::close(fd);
    EXPECT_EQ(in.substr(0, 12), "HTTP/1.1 200");
    EXPECT_EQ(good.lastBody(), "body");
  }
}

TEST_F(StreamingE2eTest, LeastRequestSendsFewerRequestsToASlowHost) {
  Upstream slow("slow", 200, 200ms, /*keepAlive=*/true), fast("fast", 200, 0ms, /*keepAlive=*/true);
  serve({slow.port(), fast.port()}, "", /*leastRequest=*/true);
  await("/", [](auto& r) { return r.status == 200; });
  int slowBefore = slow.requests(), fastBefore = fast.requests();
  std::vector<std::future<void>> clients;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      for (int i = 0; i < 25; ++i) httpGet("127.0.0.1", port_, "/");
    }));
  }
  for (auto& c : clients) c.get();
  int toSlow = slow.requests() - slowBefore, toFast = fast.requests() - fastBefore;
  EXPECT_EQ(toSlow + toFast, 200);
  // Round robin would split them evenly; the slow host, busier, mostly loses its draws. (Envoy's
  // two choices, drawn with replacement, still pick it a quarter of the time: simulated, the slow
  // host's share of 200 averages 27% and stays under 38%.)
  EXPECT_LT(toSlow * 5, 200 * 2) << toSlow << " to the slow host, " << toFast << " to the fast one";
}

// `Expect: 100-continue`: meshproxy answers the expectation itself, before any upstream is involved,
// and the upstream gets the body without the header (Envoy's default, proxy_100_continue off).
TEST_F(StreamingE2eTest, ExpectContinueIsAnsweredByTheProxy) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()});
  await("/", [](auto& r) { return r.status == 200; });
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "PUT /upload HTTP/1.1\r\nhost: svc\r\nexpect: 100-Continue\r\ncontent-length: 5\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("\r\n\r\n") != std::string::npos; })) << in;
  EXPECT_EQ(in, "HTTP/1.1 100 Continue\r\n\r\n");
  sendAll(fd, "hello");
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  EXPECT_NE(in.find("HTTP/1.1 200"), std::string::npos) << in;
  EXPECT_EQ(up.lastBody(), "hello");
  EXPECT_EQ(up.lastHead().find("\nexpect:"), std::string::npos) << up.lastHead();
}

// As Envoy's connection manager: the upstream request carries an x-request-id (a version 4 UUID
// when the client sent none, the client's otherwise) and x-forwarded-proto.
TEST_F(StreamingE2eTest, UpstreamRequestsCarryARequestIdAndTheForwardedProto) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()});
  await("/", [](auto& r) { return r.status == 200; });
  std::smatch m;
  std::string head = up.lastHead();
  ASSERT_TRUE(std::regex_search(head, m, std::regex("x-request-id: ([0-9a-f-]+)\r\n"))) << head;
  EXPECT_TRUE(std::regex_match(m[1].str(), std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << m[1];
  EXPECT_NE(head.find("x-forwarded-proto: http\r\n"), std::string::npos) << head;
  std::string first = m[1];
  httpGet("127.0.0.1", port_, "/");
  head = up.lastHead();
  ASSERT_TRUE(std::regex_search(head, m, std::regex("x-request-id: ([0-9a-f-]+)\r\n"))) << head;
  EXPECT_NE(m[1].str(), first);  // one per request
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET / HTTP/1.1\r\nhost: svc\r\nx-request-id: mine\r\nx-forwarded-proto: https\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  head = up.lastHead();
  EXPECT_NE(head.find("x-request-id: mine\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("x-forwarded-proto: https\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("x-forwarded-proto: http\r\n"), std::string::npos) << head;
}

// As Envoy's: every response says date and server (the connection manager's), a proxied one how
// long the upstream took (the router's); the upstream request says how long it has, which is the
// per-try timeout when there is one.
TEST_F(StreamingE2eTest, EnvoysHeadersOnResponsesAndOnTheUpstreamRequest) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()}, "retry_policy { per_try_timeout { seconds: 2 } }");
  HttpReply r = await("/", [](auto& r) { return r.status == 200; });
  std::regex date("\r\ndate: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r\n");
  EXPECT_TRUE(std::regex_search(r.head, date)) << r.head;
  EXPECT_NE(r.head.find("\r\nserver: envoy\r\n"), std::string::npos) << r.head;
  EXPECT_TRUE(std::regex_search(r.head, std::regex("\r\nx-envoy-upstream-service-time: [0-9]+\r\n"))) << r.head;
  EXPECT_NE(up.lastHead().find("\r\nx-envoy-expected-rq-timeout-ms: 2000\r\n"), std::string::npos) << up.lastHead();
  EXPECT_EQ(up.lastHead().find("x-envoy-original-path"), std::string::npos);  // only for a rewritten path
  // The codec's own reply to a request it cannot parse has them too.
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "NOT HTTP\r\n\r\n");
  auto [bad, took] = readToClose(fd);
  ::close(fd);
  EXPECT_EQ(bad.substr(0, 12), "HTTP/1.1 400") << bad;
  EXPECT_TRUE(std::regex_search(bad, date)) << bad;
  EXPECT_NE(bad.find("\r\nserver: envoy\r\n"), std::string::npos) << bad;
}

// As Envoy's router: a rewritten path goes upstream with the original in x-envoy-original-path.
TEST_F(StreamingE2eTest, ARewrittenPathCarriesTheOriginal) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()}, "prefix_rewrite: \"/in/\"");
  await("/x?y=1", [](auto& r) { return r.status == 200; });
  std::string head = up.lastHead();
  EXPECT_EQ(head.substr(0, 12), "get /in/x?y=") << head;  // lastHead() is lowercase
  EXPECT_NE(head.find("\r\nx-envoy-original-path: /x?y=1\r\n"), std::string::npos) << head;
}

// As Envoy's router: a rewrite that leaves the path as it was (App Mesh's default for a gateway
// route on "/") still tells the upstream the original path.
TEST_F(StreamingE2eTest, ARewriteToTheSamePathCarriesTheOriginalToo) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()}, "prefix_rewrite: \"/\"");
  await("/x", [](auto& r) { return r.status == 200; });
  std::string head = up.lastHead();
  EXPECT_EQ(head.substr(0, 7), "get /x ") << head;
  EXPECT_NE(head.find("\r\nx-envoy-original-path: /x\r\n"), std::string::npos) << head;
}

// As Envoy without upgrade_configs (meshd writes none): a WebSocket upgrade is refused 403 and
// never reaches the upstream; an h2c upgrade is dropped and the request goes on as HTTP/1.1.
TEST_F(StreamingE2eTest, UpgradesAreRefusedButAnH2cUpgradeIsIgnored) {
  StreamingUpstream up({.chunks = 1});
  serve({up.port()});
  await("/", [](auto& r) { return r.status == 200; });
  int before = up.requests();
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /ws HTTP/1.1\r\nhost: svc\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
              "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("\r\n\r\n") != std::string::npos; })) << in;
  EXPECT_EQ(in.substr(0, 23), "HTTP/1.1 403 Forbidden\r") << in;
  EXPECT_EQ(up.requests(), before);
  EXPECT_NE(admin("/stats").find("downstream_rq_ws_on_non_ws_route: 1\n"), std::string::npos);
  in.clear();
  sendAll(fd, "GET /h2c HTTP/1.1\r\nhost: svc\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\n"
              "http2-settings: AAMAAABkAAQAAP__\r\n\r\n");
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  EXPECT_EQ(in.substr(0, 12), "HTTP/1.1 200") << in;
  std::string head = up.lastHead();
  EXPECT_EQ(head.find("upgrade"), std::string::npos) << head;
  EXPECT_EQ(head.find("http2-settings"), std::string::npos) << head;
}

// A connection with no request for the connection manager's idle_timeout (Envoy's default is an
// hour; here 300 ms) is closed; one whose next request has begun is not (its stream's timeout runs).
// The connection manager's idle_timeout, as Envoy's: a connection that never sent a request closes
// at it; one that has had a request drains first, for drain_timeout, and a request in that time is
// answered with `connection: close`. A request's stream is not idle however slowly its head comes.
TEST_F(StreamingE2eTest, AnIdleConnectionClosesOrDrainsAtTheIdleTimeout) {
  StreamingUpstream up({.chunks = 1});
  auto l = httpListener("l", port_, "rc");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  l.filter_chains(0).filters(0).typed_config().UnpackTo(&m);
  m.mutable_common_http_protocol_options()->mutable_idle_timeout()->set_nanos(300000000);
  m.mutable_drain_timeout()->set_seconds(1);
  l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config()->PackFrom(m);
  set({staticCluster("c", {up.port()})}, {l}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  auto stat = [&](int n) {
    return admin("/stats").find("http.ingress.downstream_cx_idle_timeout: " + std::to_string(n) + "\n") != std::string::npos;
  };

  int fd = connectLoopback(port_);  // no request: closed at the idle timeout
  ASSERT_GE(fd, 0);
  auto [nothing, quiet] = readToClose(fd);
  ::close(fd);
  EXPECT_EQ(nothing, "");
  EXPECT_GT(quiet, 250ms);
  EXPECT_LT(quiet, 1200ms);
  EXPECT_TRUE(stat(1));

  fd = connectLoopback(port_);  // a request, then silence: idle timeout, then the drain
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET / HTTP/1.1\r\nhost: svc\r\n\r\n");
  std::string in;
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  auto [rest, took] = readToClose(fd);
  ::close(fd);
  EXPECT_EQ(rest, "");
  EXPECT_GT(took, 1200ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(stat(2));

  fd = connectLoopback(port_);  // a request while draining is the connection's last
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET / HTTP/1.1\r\nhost: svc\r\n\r\n");
  in.clear();
  ASSERT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  std::this_thread::sleep_for(600ms);
  sendAll(fd, "GET / HTTP/1.1\r\nhost: svc\r\n\r\n");
  auto [last, _] = readToClose(fd);
  ::close(fd);
  EXPECT_EQ(last.substr(0, 12), "HTTP/1.1 200") << last;
  EXPECT_NE(last.find("\r\nconnection: close\r\n"), std::string::npos) << last;

  fd = connectLoopback(port_);  // a head that comes slowly is a stream, not an idle connection
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /slow HTTP/1.1\r\n");
  std::this_thread::sleep_for(600ms);
  sendAll(fd, "host: svc\r\n\r\n");
  in.clear();
  EXPECT_TRUE(readUntil(fd, in, [&] { return in.find("0\r\n\r\n") != std::string::npos; })) << in;
  ::close(fd);
  EXPECT_EQ(in.substr(0, 12), "HTTP/1.1 200") << in;
}

}  // namespace
}  // namespace meshd::proxy::testing
