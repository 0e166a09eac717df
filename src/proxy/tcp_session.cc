// The TCP proxy filter: connect to a host of the chain's cluster (for an ORIGINAL_DST cluster, where
// the downstream connection was headed) and copy bytes both ways.
#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <array>

#include "proxy/load_balancer.h"
#include "proxy/original_dst.h"
#include "proxy/sessions.h"
#include "proxy/timed_stream.h"
#include "proxy/worker.h"

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

namespace {

Task<void> pump(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to) {
  std::array<char, 16384> buf;
  boost::system::error_code ec;
  for (;;) {
    size_t n = co_await from->async_read_some(boost::asio::buffer(buf), into(ec));
    if (ec) break;
    co_await boost::asio::async_write(*to, boost::asio::buffer(buf.data(), n), into(ec));
    if (ec) break;
  }
  to->shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

Task<void> serveTcp(Worker& worker, Socket socket, FilterChainView chain, tcp::endpoint downstreamLocal) {
  ConfigPtr config = worker.config();
  auto it = config->clusters.find(pickWeighted(chain.tcpClusters, worker.random()));
  if (it == config->clusters.end()) co_return;
  const ClusterView& c = *it->second;
  Host originalDst;
  const Host* h = c.originalDst ? useOriginalDst(c, downstreamLocal, originalDst) : pickHost(c, worker.roundRobin(c.name));
  if (!h) {
    c.stats->upstream_cx_none_healthy++;
    co_return;
  }
  TimedStream up(socket.get_executor());
  up.expiresAfter(c.connectTimeout);
  boost::system::error_code ec;
  c.stats->upstream_cx_total++;
  co_await up.async_connect(h->endpoint, into(ec));
  if (ec) {
    c.stats->upstream_cx_connect_fail++;
    co_return;
  }
  up.expiresNever();
  auto down = std::make_shared<Socket>(std::move(socket));
  auto upstream = std::make_shared<Socket>(up.release());
  boost::asio::co_spawn(down->get_executor(), pump(upstream, down), boost::asio::detached);
  co_await pump(down, upstream);
}

}  // namespace meshd::proxy
