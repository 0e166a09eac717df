// The egress listener's data path end to end: ORIGINAL_DST clusters (TCP and HTTP) and filter
// chains chosen by the TLS inspector's server name. Loopback only.
//
// A connection reaches an ORIGINAL_DST cluster's host at the connection's own local address when it
// was not redirected (no iptables here). So the tests connect to the listener (bound on 0.0.0.0)
// first and only then bind the "original destination" on 127.0.0.1 at the same port (SO_REUSEPORT,
// as the listener's sockets): Linux gives a connection to the more specific socket, so the proxy's
// own connection reaches that upstream while the client's was already accepted by the proxy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mutex>

#include "proxy/e2e_fixture.h"
#include "proxy/tls_test_util.h"

namespace meshd::proxy {
namespace {

using namespace testing;
using envoy::config::cluster::v3::Cluster;
using envoy::config::listener::v3::Listener;

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything until the peer closes (or 5 s pass).
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A loopback TCP server that keeps what each connection sent and answers it with `reply` once the
// client has finished sending (with `httpRequest`, once the request head has arrived).
class Recorder {
 public:
  // port 0: a free one; otherwise shares `port` with the listener bound on 0.0.0.0 (SO_REUSEPORT).
  explicit Recorder(std::string reply, int port = 0, bool httpRequest = false) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, httpRequest] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        timeval tv{5, 0};  // a test that goes wrong still ends
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string got;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) {
          got.append(buf, static_cast<size_t>(n));
          if (httpRequest && got.find("\r\n\r\n") != std::string::npos) break;
        }
        {
          std::lock_guard lock(mu_);  // before the reply, which the test may check this against
          received_.push_back(got);
        }
        ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        // Close only after the peer did: closing with unread bytes would reset the connection.
        ::shutdown(c, SHUT_WR);
        while (::recv(c, buf, sizeof buf, 0) > 0) {
        }
        ::close(c);
      }
    });
  }
  ~Recorder() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  bool bound() const { return bound_; }
  int port() const { return port_; }
  std::vector<std::string> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  bool bound_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> received_;
};

Cluster originalDstCluster(const std::string& name) {
  Cluster c;
  c.set_name(name);
  c.set_type(Cluster::ORIGINAL_DST);
  c.set_lb_policy(Cluster::CLUSTER_PROVIDED);
  c.mutable_connect_timeout()->set_seconds(1);
  return c;
}

// As meshd's egress listener: original_dst and tls_inspector listener filters, on 0.0.0.0.
Listener egressShaped(Listener l) {
  l.mutable_address()->mutable_socket_address()->set_address("0.0.0.0");
  l.add_listener_filters()->set_name("envoy.filters.listener.original_dst");
  l.add_listener_filters()->set_name("envoy.filters.listener.tls_inspector");
  return l;
}

class EgressE2eTest : public ProxyE2eTest {
 protected:
  // A connection to the proxy's listener on port_, once it accepts them.
  int connectToProxy() {
    int fd = -1;
    eventually([&] { return admin("/ready") == "LIVE\n" && (fd = connectTo(port_)) >= 0; });
    return fd;
  }
};

TEST_F(EgressE2eTest, TcpPassesThroughToTheOriginalDestination) {
  set({originalDstCluster("out")}, {egressShaped(tcpListener("egress", port_, "out"))}, {});
  int client = connectToProxy();
  ASSERT_GE(client, 0);
  Recorder destination("pong", port_);
  ASSERT_TRUE(destination.bound()) << "cannot share port " << port_ << " with the listener";
  sendAll(client, "ping");
  ::shutdown(client, SHUT_WR);
  EXPECT_EQ(readAll(client), "pong");
  ::close(client);
  EXPECT_EQ(destination.received(), std::vector<std::string>{"ping"});
  EXPECT_NE(admin("/clusters").find("out::127.0.0.1:" + std::to_string(port_) + "::health_flags::healthy"),
            std::string::npos) << admin("/clusters");
}

// A request whose Host names no service takes the catch-all route to the ORIGINAL_DST cluster.
TEST_F(EgressE2eTest, HttpRouteToAnOriginalDstClusterReachesTheOriginalDestination) {
  set({originalDstCluster("out")}, {egressShaped(httpListener("egress", port_, "rc"))},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "out" } })")});
  int client = connectToProxy();
  ASSERT_GE(client, 0);
  Recorder destination("HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\ndestination", port_, true);
  ASSERT_TRUE(destination.bound());
  sendAll(client, "GET /x HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n");
  std::string reply = readAll(client);
  ::close(client);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200") << reply;
  EXPECT_TRUE(reply.ends_with("destination")) << reply;
  ASSERT_EQ(destination.received().size(), 1u);
  EXPECT_TRUE(destination.received()[0].starts_with("GET /x HTTP/1.1\r\n"));
}

// meshd's egress chains: TLS for *.amazonaws.com, other TLS, and everything else.
TEST_F(EgressE2eTest, TlsClientHelloIsRoutedByServerName) {
  Recorder aws("aws"), tls("tls"), raw("raw");
  auto l = tcpListener("egress", port_, "raw");
  l.add_listener_filters()->set_name("envoy.filters.listener.tls_inspector");
  for (const auto& [cluster, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"aws", {"*.amazonaws.com"}}, {"tls", {}}}) {
    auto chain = tcpListener("x", port_, cluster).filter_chains(0);
    for (const auto& n : names) chain.mutable_filter_chain_match()->add_server_names(n);
    chain.mutable_filter_chain_match()->set_transport_protocol("tls");
    *l.add_filter_chains() = chain;
  }
  set({staticCluster("aws", {aws.port()}), staticCluster("tls", {tls.port()}), staticCluster("raw", {raw.port()})}, {l}, {});
  auto through = [&](const std::string& bytes) {
    int fd = connectToProxy();
    sendAll(fd, bytes);
    ::shutdown(fd, SHUT_WR);
    std::string reply = readAll(fd);
    ::close(fd);
    return reply;
  };
  std::string awsHello = clientHello("sts.us-east-1.amazonaws.com");
  EXPECT_EQ(through(awsHello), "aws");
  EXPECT_EQ(through(clientHello("api.example.com")), "tls");
  EXPECT_EQ(through("plain bytes"), "raw");
  EXPECT_EQ(aws.received(), std::vector<std::string>{awsHello});  // the peeked bytes all went on
  EXPECT_EQ(raw.received(), std::vector<std::string>{"plain bytes"});
}

// Nothing sent: the inspector gives up after listener_filters_timeout and, as Envoy by default,
// closes the connection.
TEST_F(EgressE2eTest, SilentConnectionIsClosedAfterTheListenerFiltersTimeout) {
  Recorder raw("raw");
  auto l = tcpListener("egress", port_, "raw");
  l.add_listener_filters()->set_name("envoy.filters.listener.tls_inspector");
  l.mutable_listener_filters_timeout()->set_nanos(200000000);
  set({staticCluster("raw", {raw.port()})}, {l}, {});
  int fd = connectToProxy();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(readAll(fd), "");
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(raw.received().empty());
}

}  // namespace
}  // namespace meshd::proxy
