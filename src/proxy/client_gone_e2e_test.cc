// A client that goes away while its request is under way: as Envoy, meshproxy stops the upstream
// work done for it (an HTTP/2 upstream stream reset with NO_ERROR, an HTTP/1.1 upstream connection
// closed), and counts it as Envoy does (downstream_rq_rx_reset, downstream_cx_destroy_remote_active_rq).
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "proxy/e2e_fixture.h"
#include "proxy/h2/frame_client.h"
#include "proxy/h2/upstream_test_server.h"

namespace meshd::proxy::testing {
namespace {

using Clock = std::chrono::steady_clock;

class ClientGoneE2eTest : public ProxyE2eTest {
 protected:
  // A GET of `path` on a new stream of `client`.
  static h2::StreamId get(FrameClient& client, const std::string& path) {
    return client.codec().submitRequest({{":method", "GET"}, {":scheme", "http"}, {":authority", "svc"}, {":path", path}},
                                        true);
  }
  // Waits until the listener on port_ is there (an upstream that never answers cannot tell).
  bool listening() {
    return eventually([&] {
      if (admin("/listeners").find(":" + std::to_string(port_) + "\n") == std::string::npos) return false;
      int fd = connectLoopback(port_);
      if (fd >= 0) ::close(fd);
      return fd >= 0;
    });
  }
  // Routes everything on port_ to `cluster` (30 s route timeout), once the listener is there.
  bool serve(const envoy::config::cluster::v3::Cluster& cluster) {
    set({cluster}, {httpListener("l", port_, "rc")},
        {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" timeout { seconds: 30 } } })")});
    return listening();
  }
  bool statIs(const std::string& line) {
    return eventually([&] { return admin("/stats").find(line + "\n") != std::string::npos; });
  }
};

// An HTTP/1.1 upstream that reads a request and never answers: it notes when meshproxy closed the
// connection.
class SilentUpstream {
 public:
  SilentUpstream()
      : loop_([this](int fd) {
          char buf[4096];
          if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
          ++requests_;
          timeval tick{0, 50000};
          ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
          while (!loop_.stopping()) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
              ++closed_;
              break;
            }
          }
          ::close(fd);
        }) {}
  int port() const { return loop_.port(); }
  int requests() const { return requests_; }
  int closed() const { return closed_; }

 private:
  std::atomic<int> requests_{0};
  std::atomic<int> closed_{0};
  AcceptLoop loop_;  // last: it goes first
};

// gRPC cancels a call with RST_STREAM: the HTTP/2 upstream's stream is reset at once (NO_ERROR, as
// Envoy's router resets it), not left to run until it answers.
TEST_F(ClientGoneE2eTest, AStreamResetByTheClientIsResetUpstream) {
  h2::testing::UpstreamTestServer up;
  ASSERT_TRUE(serve(http2Cluster("c", up.endpoint().port())));
  int before = up.requests();
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  h2::StreamId id = get(client, "/slow/20000");
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return up.requests() == before + 1; }));
  auto start = Clock::now();
  client.codec().resetStream(id, h2::ErrorCode::kCancel);
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return !up.resets().empty(); }, 5s));
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(up.resets().back(), h2::ErrorCode::kNoError);
  EXPECT_TRUE(statIs("downstream_rq_rx_reset: 1"));
}

// A client whose connection closes with streams open: each stream's upstream work stops.
TEST_F(ClientGoneE2eTest, AConnectionClosedWithStreamsOpenResetsTheirUpstreams) {
  h2::testing::UpstreamTestServer up;
  ASSERT_TRUE(serve(http2Cluster("c", up.endpoint().port())));
  int before = up.requests();
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  get(client, "/slow/20000");
  get(client, "/slow/20000");
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return up.requests() == before + 2; }));
  auto start = Clock::now();
  client.close();
  ASSERT_TRUE(eventually([&] { return up.resets().size() == 2; }, 5s));
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(statIs("downstream_cx_destroy_remote_active_rq: 1"));
  EXPECT_TRUE(statIs("downstream_rq_rx_reset: 2"));  // each stream the connection's end reset
}

// An HTTP/2 client's reset reaches an HTTP/1.1 upstream the only way HTTP/1.1 can say it: its
// connection closes.
TEST_F(ClientGoneE2eTest, AStreamResetByTheClientClosesItsHttp1UpstreamConnection) {
  SilentUpstream up;
  ASSERT_TRUE(serve(staticCluster("c", {up.port()})));
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  h2::StreamId id = get(client, "/wait");
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return up.requests() == 1; }));
  auto start = Clock::now();
  client.codec().resetStream(id, h2::ErrorCode::kCancel);
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return up.closed() == 1; }, 5s));
  EXPECT_LT(Clock::now() - start, 1s);
}

// An HTTP/1.1 client that closes its connection while its upstream has not answered: the upstream
// connection closes within about two of the stream's probes (a second apart), not at the route's
// timeout, and the client's connection is counted as Envoy counts it.
TEST_F(ClientGoneE2eTest, AnHttp1ClientThatGoesAwayClosesItsUpstreamConnection) {
  SilentUpstream up;
  ASSERT_TRUE(serve(staticCluster("c", {up.port()})));
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /wait HTTP/1.1\r\nhost: svc\r\n\r\n");
  ASSERT_TRUE(eventually([&] { return up.requests() == 1; }));
  auto start = Clock::now();
  ::close(fd);
  ASSERT_TRUE(eventually([&] { return up.closed() == 1; }, 5s));
  EXPECT_LT(Clock::now() - start, 2500ms);
  EXPECT_TRUE(statIs("downstream_cx_destroy_remote_active_rq: 1"));
  EXPECT_TRUE(statIs("downstream_rq_rx_reset: 1"));  // as Envoy's, the request's stream was reset
}

// A client gone while the router waits out a retry's back-off: no further attempt is made for it.
TEST_F(ClientGoneE2eTest, NoRetryIsMadeForAClientGoneDuringTheBackOff) {
  Upstream sick("sick", 503, 0ms, /*keepAlive=*/true);
  set({staticCluster("c", {sick.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" timeout { seconds: 30 }
         retry_policy { retry_on: "5xx" num_retries { value: 3 }
                        retry_back_off { base_interval { seconds: 1 } max_interval { seconds: 1 } } } } })")});
  ASSERT_TRUE(listening());
  FrameClient client(port_);
  ASSERT_TRUE(client.connected());
  h2::StreamId id = get(client, "/x");
  ASSERT_TRUE(client.flush());
  ASSERT_TRUE(eventually([&] { return sick.requests() >= 1; }));
  client.codec().resetStream(id, h2::ErrorCode::kCancel);
  ASSERT_TRUE(client.flush());
  std::this_thread::sleep_for(100ms);  // an attempt already on its way arrives
  int atReset = sick.requests();
  std::this_thread::sleep_for(3000ms);  // past the remaining back-offs (each under 1 s)
  EXPECT_EQ(sick.requests(), atReset);
  EXPECT_LT(atReset, 4);
}

}  // namespace
}  // namespace meshd::proxy::testing
