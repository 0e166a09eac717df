// The DogStatsD sink as a statsd daemon on loopback sees it: Envoy's lines, tag-extracted names and
// tags (the bootstrap's fixed stats tags included), counters as deltas, gauges, every histogram
// value, a metric per datagram.
#include <envoy/config/metrics/v3/stats.pb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

class StatsdE2eTest : public ProxyE2eTest {
 protected:
  StatsdE2eTest() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_statsd_ = ntohs(a.sin_port);
    timeval tick{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  }
  ~StatsdE2eTest() override { ::close(fd_); }

  void editBootstrap(envoy::config::bootstrap::v3::Bootstrap& b) override {
    envoy::config::metrics::v3::DogStatsdSink dog;
    auto* sa = dog.mutable_address()->mutable_socket_address();
    sa->set_address("127.0.0.1");
    sa->set_port_value(port_statsd_);
    sa->set_protocol(envoy::config::core::v3::SocketAddress::UDP);
    auto* sink = b.add_stats_sinks();
    sink->set_name("envoy.stat_sinks.dog_statsd");
    sink->mutable_typed_config()->PackFrom(dog);
    b.mutable_stats_flush_interval()->set_nanos(200000000);
    auto* tag = b.mutable_stats_config()->add_stats_tags();
    tag->set_tag_name("appmesh.mesh");
    tag->set_fixed_value("m1");
  }

  // The datagrams received within `for_`.
  std::vector<std::string> receive(std::chrono::milliseconds for_) {
    std::vector<std::string> out;
    auto end = std::chrono::steady_clock::now() + for_;
    char buf[2048];
    while (std::chrono::steady_clock::now() < end) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) out.emplace_back(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // Listener "l" to cluster "app" on `app`, and four requests through it.
  void serveFourRequests(const Upstream& app) {
    set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
        {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
    await("/", [](auto& r) { return r.status == 200; });
    for (int i = 0; i < 4; ++i) ASSERT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
  }

  int fd_ = -1;
  int port_statsd_ = 0;
};

TEST_F(StatsdE2eTest, CountersGaugesAndHistogramValuesGoOutAsEnvoysLines) {
  Upstream app("app", 200, std::chrono::milliseconds(0), true);
  ASSERT_NO_FATAL_FAILURE(serveFourRequests(app));
  std::vector<std::string> lines = receive(std::chrono::milliseconds(900));
  ASSERT_FALSE(lines.empty());
  // Counters add up to the admin's figure, a delta per flush; each histogram value comes once.
  const std::string rq200 = "envoy.cluster.upstream_rq:";
  const std::string rq200Tags = "|c|#envoy.response_code:200,appmesh.mesh:m1,envoy.cluster_name:app";
  const std::string time = "envoy.cluster.upstream_rq_time:";
  const std::string timeTags = "|ms|#appmesh.mesh:m1,envoy.cluster_name:app";
  uint64_t counted = 0, timed = 0;
  bool live = false;
  for (const std::string& l : lines) {
    EXPECT_EQ(l.find('\n'), std::string::npos) << l;  // a metric per datagram
    if (l.starts_with(rq200) && l.ends_with(rq200Tags)) counted += std::stoull(l.substr(rq200.size()));
    if (l.starts_with(time) && l.ends_with(timeTags)) ++timed;
    if (l == "envoy.server.live:1|g|#appmesh.mesh:m1") live = true;
  }
  std::string stats = admin("/stats?filter=cluster.app.upstream_rq_200");
  uint64_t total = std::stoull(stats.substr(stats.find(": ") + 2));
  EXPECT_GE(total, 5u);
  EXPECT_EQ(counted, total) << stats;
  EXPECT_EQ(timed, total);
  EXPECT_TRUE(live);
}

// POST /reset_counters zeroes what the admin shows, not what the sink is owed: increments after
// the reset still go out (Envoy's sinks flush latched deltas).
TEST_F(StatsdE2eTest, CountsAfterAResetStillReachTheSink) {
  Upstream app("app", 200, std::chrono::milliseconds(0), true);
  ASSERT_NO_FATAL_FAILURE(serveFourRequests(app));
  std::vector<std::string> lines = receive(std::chrono::milliseconds(600));
  std::string before = admin("/stats?filter=cluster.app.upstream_rq_200");
  uint64_t beforeReset = std::stoull(before.substr(before.find(": ") + 2));
  int fd = connectLoopback(proxy_->adminPort());
  ASSERT_GE(fd, 0);
  sendAll(fd, "POST /reset_counters HTTP/1.1\r\nhost: admin\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  EXPECT_TRUE(readToClose(fd).first.ends_with("OK\n"));
  ::close(fd);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
  const std::string rq200 = "envoy.cluster.upstream_rq:";
  const std::string rq200Tags = "|c|#envoy.response_code:200,appmesh.mesh:m1,envoy.cluster_name:app";
  for (auto& l : receive(std::chrono::milliseconds(900))) lines.push_back(std::move(l));
  uint64_t counted = 0;  // every delta the sink sent, before the reset and after
  for (const std::string& l : lines) {
    if (l.starts_with(rq200) && l.ends_with(rq200Tags)) counted += std::stoull(l.substr(rq200.size()));
  }
  EXPECT_EQ(counted, beforeReset + 3);
  std::string stats = admin("/stats?filter=cluster.app.upstream_rq_200");
  EXPECT_EQ(stats.substr(stats.find(": ") + 2), "3\n");
}

// A sink meshproxy does not have, or one it cannot reach as configured, stops the start with a
// reason, as Envoy refuses such a bootstrap.
TEST(StatsdSinkConfigTest, AnUnsupportedOrBadSinkFailsTheStart) {
  auto start = [](const google::protobuf::Message& sinkConfig) {
    envoy::config::bootstrap::v3::Bootstrap b;
    b.mutable_node()->set_id("proxy");
    auto* xds = b.mutable_static_resources()->add_clusters();
    xds->set_name("xds");
    auto* sa = xds->mutable_load_assignment()->add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address()
                   ->mutable_socket_address();
    sa->set_address("127.0.0.1");
    sa->set_port_value(1);  // never reached: the start stops first
    b.mutable_dynamic_resources()->mutable_ads_config()->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name("xds");
    b.add_stats_sinks()->mutable_typed_config()->PackFrom(sinkConfig);
    Proxy p(ProxyOptions{b, 1});
    return p.start();
  };
  envoy::config::metrics::v3::StatsdSink plain;
  Status s = start(plain);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is not supported"), std::string::npos) << s.message();
  envoy::config::metrics::v3::DogStatsdSink dog;
  dog.mutable_address()->mutable_socket_address()->set_address("statsd.local");  // a name, not an IP
  dog.mutable_address()->mutable_socket_address()->set_port_value(8125);
  dog.mutable_address()->mutable_socket_address()->set_protocol(envoy::config::core::v3::SocketAddress::UDP);
  s = start(dog);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is not an IP address"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace meshd::proxy::testing
