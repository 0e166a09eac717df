// The HTTP/2 upstream pool: one connection for many concurrent streams, a new one when the server's
// limit is reached or the connection drains, idle connections closed.
#include "proxy/h2/upstream_pool.h"

#include <gtest/gtest.h>

#include <optional>

#include "proxy/h2/upstream_test_server.h"
#include "proxy/h2/upstream_test_util.h"

namespace meshd::proxy::h2 {
namespace {

using namespace testing;

class UpstreamPoolTest : public ::testing::Test {
 protected:
  // A GET of `path` through the pool: responseBody().
  Task<std::string> get(UpstreamPool& pool, const UpstreamTestServer& server, std::string path,
                        std::string cluster = "c", UpstreamOptions options = {}) {
    boost::system::error_code ec;
    auto head = request(std::move(path));
    auto s = co_await pool.open(cluster, server.endpoint(), {}, head, true, in(5s), ec, nullptr, options);
    EXPECT_FALSE(ec) << ec.message();
    if (!s) co_return "<" + ec.message() + ">";
    co_return co_await responseBody(*s);
  }

  // `n` GETs of /slow/200 at once through the pool: how many succeeded.
  Task<int> slowGets(UpstreamPool& pool, const UpstreamTestServer& server, int n) {
    int ok = 0;
    co_await concurrently(io_, n, [&](int) -> Task<> {
      if (co_await get(pool, server, "/slow/200") == "slow") ++ok;
    });
    co_return ok;
  }

  boost::asio::io_context io_{1};
  UpstreamTestServer server_;
};

TEST_F(UpstreamPoolTest, FiftyConcurrentStreamsShareOneConnection) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await slowGets(pool, server_, 50), 50);
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 1u);
  });
  EXPECT_EQ(server_.connections(), 1);
  EXPECT_EQ(server_.requests(), 50);
  EXPECT_EQ(server_.maxConcurrentStreams(), 50);  // all in flight at once
}

// As Envoy's pools, per cluster: two clusters naming one address do not share a connection.
TEST_F(UpstreamPoolTest, ClustersDoNotShareConnections) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await get(pool, server_, "/", "a"), "hello");
    EXPECT_EQ(co_await get(pool, server_, "/", "b"), "hello");
    EXPECT_EQ(co_await get(pool, server_, "/", "a"), "hello");
    EXPECT_EQ(pool.connections("a", server_.endpoint()), 1u);
    EXPECT_EQ(pool.connections("b", server_.endpoint()), 1u);
  });
  EXPECT_EQ(server_.connections(), 2);
}

// A removed cluster's idle connections close; the others stay.
TEST_F(UpstreamPoolTest, RetainClosesTheIdleConnectionsOfRemovedClusters) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await get(pool, server_, "/", "a"), "hello");
    EXPECT_EQ(co_await get(pool, server_, "/", "b"), "hello");
    pool.retain([](std::string_view c) { return c == "b"; });
    EXPECT_EQ(pool.connections("a", server_.endpoint()), 0u);
    EXPECT_EQ(pool.connections("b", server_.endpoint()), 1u);
    EXPECT_EQ(co_await get(pool, server_, "/", "b"), "hello");
  });
  EXPECT_EQ(server_.connections(), 2);
}

// As Envoy drains a removed cluster's pool: a busy connection finishes its streams, takes no new
// one, and closes after the last (not at the idle timeout, minutes later).
TEST_F(UpstreamPoolTest, ARemovedClustersBusyConnectionClosesAfterItsLastStream) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    boost::system::error_code ec;
    auto slow = co_await pool.open("a", server_.endpoint(), {}, request("/slow/300"), true, in(5s), ec);
    EXPECT_TRUE(slow) << ec.message();
    if (!slow) co_return;
    pool.retain([](std::string_view) { return false; });
    EXPECT_EQ(pool.connections("a", server_.endpoint()), 1u);  // busy: it stays for its stream
    EXPECT_EQ(co_await get(pool, server_, "/", "a"), "hello");  // the cluster is back: a new connection
    EXPECT_EQ(co_await responseBody(*slow), "slow");
    slow.reset();
    Timer settle(io_.get_executor(), 50ms);
    co_await settle.async_wait(kAwait);
    EXPECT_EQ(pool.connections("a", server_.endpoint()), 1u);  // the drained one closed, the new one stays
  });
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(UpstreamPoolTest, TheServersStreamLimitOpensAnotherConnection) {
  Settings two;
  two.maxConcurrentStreams = 2;
  UpstreamTestServer server(two);
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await get(pool, server, "/"), "hello");  // the server's SETTINGS are known from here on
    EXPECT_EQ(co_await slowGets(pool, server, 4), 4);
    EXPECT_EQ(pool.connections("c", server.endpoint()), 2u);
  });
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.maxConcurrentStreams(), 2);
}

TEST_F(UpstreamPoolTest, GoAwayMakesThePoolOpenANewConnection) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await get(pool, server_, "/"), "hello");
    EXPECT_EQ(co_await get(pool, server_, "/goaway"), "bye");
    EXPECT_EQ(server_.connections(), 1);
    EXPECT_EQ(co_await get(pool, server_, "/"), "hello");
    EXPECT_EQ(co_await get(pool, server_, "/"), "hello");
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 1u);  // the drained one is gone
  });
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(UpstreamPoolTest, ALostConnectionIsReplaced) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    EXPECT_EQ(co_await get(pool, server_, "/close"), "<connection termination>");
    EXPECT_EQ(co_await get(pool, server_, "/"), "hello");
  });
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(UpstreamPoolTest, ConnectFailureReachesEveryRequestWaitingForTheConnection) {
  boost::asio::ip::tcp::endpoint closed;
  {
    proxy::Acceptor a(io_.get_executor(), {boost::asio::ip::address_v4::loopback(), 0});
    closed = a.local_endpoint();
  }
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    int refused = 0;
    co_await concurrently(io_, 3, [&](int) -> Task<> {
      boost::system::error_code ec;
      auto head = request("/");
      auto s = co_await pool.open("c", closed, {}, head, true, in(5s), ec);
      if (!s && ec == boost::asio::error::connection_refused) ++refused;
    });
    EXPECT_EQ(refused, 3);
    EXPECT_EQ(pool.connections("c", closed), 0u);
  });
}

TEST_F(UpstreamPoolTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    UpstreamOptions options{.idleTimeout = 300ms};
    EXPECT_EQ(co_await get(pool, server_, "/", "c", options), "hello");
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 1u);
    // Busy past the timeout: not idle, kept.
    EXPECT_EQ(co_await get(pool, server_, "/slow/500", "c", options), "slow");
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 1u);
    EXPECT_EQ(co_await get(pool, server_, "/", "c", options), "hello");
    Timer wait(io_.get_executor(), 800ms);
    co_await wait.async_wait(kAwait);
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 0u);
  });
  EXPECT_EQ(server_.connections(), 1);
}

// max_requests_per_connection: a connection takes that many streams, then drains; the next request
// opens another.
TEST_F(UpstreamPoolTest, AConnectionCarriesMaxRequestsPerConnectionStreams) {
  runTest(io_, [&]() -> Task<> {
    UpstreamPool pool(io_.get_executor());
    UpstreamOptions two{.maxRequestsPerConnection = 2};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(co_await get(pool, server_, "/", "c", two), "hello");
    Timer settle(io_.get_executor(), 100ms);  // the drained connections close after their last stream
    co_await settle.async_wait(kAwait);
    EXPECT_EQ(pool.connections("c", server_.endpoint()), 1u);
  });
  EXPECT_EQ(server_.connections(), 3);
}

}  // namespace
}  // namespace meshd::proxy::h2
