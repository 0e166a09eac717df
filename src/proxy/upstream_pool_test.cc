// The HTTP/1.1 upstream pool: idle connections reused per cluster and host, and a removed cluster's
// connections closed, also those busy when it went.
#include "proxy/upstream_pool.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <string_view>

namespace meshd::proxy {
namespace {

using tcp = boost::asio::ip::tcp;

class UpstreamPoolTest : public ::testing::Test {
 protected:
  // A connection to the test's listener, as exchange() would have made: the pool's side, and the
  // upstream's end accepted into `peers_`.
  UpstreamPool::Stream connect() {
    Socket s(io_.get_executor());
    s.connect(acceptor_.local_endpoint());
    peers_.push_back(acceptor_.accept());
    return std::make_unique<UpstreamPool::Connection>(std::move(s));
  }
  // The same, counted in `stats_` and with a cluster's `options`.
  UpstreamPool::Stream connect(UpstreamOptions options) {
    Socket s(io_.get_executor());
    s.connect(acceptor_.local_endpoint());
    peers_.push_back(acceptor_.accept());
    return std::make_unique<UpstreamPool::Connection>(std::move(s), UpstreamPool::Slot(ActiveConnection(stats_, nullptr), nullptr), options);
  }
  // The upstream's end of connection `i` sees the pool's side closed (within a second: a test
  // that fails does not hang).
  bool closedByPool(size_t i) {
    pollfd p{peers_[i].native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return false;
    std::array<char, 1> c;
    boost::system::error_code ec;
    peers_[i].read_some(boost::asio::buffer(c), ec);
    return ec == boost::asio::error::eof;
  }

  boost::asio::io_context io_{1};
  Acceptor acceptor_{io_.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
  tcp::endpoint host_{boost::asio::ip::address_v4::loopback(), 9};
  std::vector<Socket> peers_;
  std::shared_ptr<ClusterStats> stats_ = std::make_shared<ClusterStats>();
  UpstreamPool pool_;
};

TEST_F(UpstreamPoolTest, AGivenConnectionIsTakenAgainByItsClusterOnly) {
  auto s = connect();
  TimedStream* given = s.get();
  pool_.give("a", host_, std::move(s));
  EXPECT_EQ(pool_.take("b", host_), nullptr);
  EXPECT_EQ(pool_.take("a", tcp::endpoint(host_.address(), 10)), nullptr);
  EXPECT_EQ(pool_.take("a", host_).get(), given);
  EXPECT_EQ(pool_.take("a", host_), nullptr);  // taken: no longer idle
}

TEST_F(UpstreamPoolTest, RetainClosesARemovedClustersIdleConnections) {
  pool_.give("a", host_, connect());
  pool_.give("b", host_, connect());
  pool_.retain([](std::string_view c) { return c == "b"; });
  EXPECT_TRUE(closedByPool(0));
  EXPECT_EQ(pool_.take("a", host_), nullptr);
  EXPECT_NE(pool_.take("b", host_), nullptr);
}

// A request in flight when its cluster went gives its connection back afterwards: as Envoy drains
// a removed cluster's pool, the connection closes then instead of idling in a pool nothing asks.
TEST_F(UpstreamPoolTest, ARemovedClustersBusyConnectionClosesWhenGivenBack) {
  auto busy = connect();
  pool_.retain([](std::string_view c) { return c != "a"; });
  pool_.give("a", host_, std::move(busy));
  EXPECT_TRUE(closedByPool(0));
  EXPECT_EQ(pool_.take("a", host_), nullptr);
  pool_.give("b", host_, connect());  // the others are pooled as before
  EXPECT_NE(pool_.take("b", host_), nullptr);
}

// max_requests_per_connection: given back after its last request, a connection closes.
TEST_F(UpstreamPoolTest, AConnectionClosesAfterItsMaxRequests) {
  pool_.give("a", host_, connect(UpstreamOptions{.maxRequestsPerConnection = 2}));
  auto again = pool_.take("a", host_);
  ASSERT_NE(again, nullptr);
  pool_.give("a", host_, std::move(again));
  EXPECT_TRUE(closedByPool(0));
  EXPECT_EQ(pool_.take("a", host_), nullptr);
  EXPECT_EQ(stats_->upstream_cx_max_requests.load(), 1u);
  EXPECT_EQ(stats_->upstream_cx_active.load(), 0u);
}

// Idle connections close without being taken again: past their idle timeout, or once the peer
// closed them (as Envoy sees the close at once), within a sweep.
TEST_F(UpstreamPoolTest, TheSweepClosesIdleConnectionsPastTheTimeoutOrClosedByThePeer) {
  pool_.give("a", host_, connect(UpstreamOptions{.idleTimeout = std::chrono::milliseconds(300)}));
  pool_.give("a", host_, connect(UpstreamOptions{}));
  pool_.give("a", host_, connect(UpstreamOptions{}));
  peers_[1].close();
  EXPECT_EQ(stats_->upstream_cx_active.load(), 3u);
  io_.run_for(UpstreamPool::kSweepEvery + std::chrono::milliseconds(500));
  EXPECT_TRUE(closedByPool(0));
  EXPECT_EQ(stats_->upstream_cx_idle_timeout.load(), 1u);
  EXPECT_EQ(stats_->upstream_cx_active.load(), 1u);  // the third one, still open and quiet
  EXPECT_NE(pool_.take("a", host_), nullptr);
}

}  // namespace
}  // namespace meshd::proxy
