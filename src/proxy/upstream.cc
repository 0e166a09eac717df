#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include "proxy/upstream.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include "proxy/http_write.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::redirect_error;
using boost::asio::use_awaitable;

namespace {

constexpr size_t kResponseReadSize = 32 << 10;

// Sends the request on a connected stream and reads the response; gives the connection back to the
// pool when both sides keep it alive.
boost::asio::awaitable<UpstreamResult> send(UpstreamPool::Stream& owned, const Host& host, const ClusterView& cluster,
                                            const Request& request, std::chrono::steady_clock::time_point deadline,
                                            UpstreamPool& pool) {
  beast::tcp_stream& stream = *owned;
  UpstreamResult out;
  beast::error_code ec;
  stream.expires_at(deadline);
  cluster.stats->upstream_rq_total++;  // per attempt, as Envoy counts
  std::string head;
  co_await writeMessage(stream, request, head, ec);
  // Beast reads at most the buffer's free capacity at a time (512 bytes for an empty one): start
  // with room for a typical response, so a 16 KiB body takes 1-2 reads instead of 30.
  beast::flat_buffer buffer;
  buffer.reserve(kResponseReadSize);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (request.method() == http::verb::head) parser.skip(true);
  if (!ec) co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (ec == beast::error::timeout) {
    out.kind = UpstreamResult::kTimeout;
    co_return out;
  }
  if (ec) {
    out.kind = UpstreamResult::kReset;
    co_return out;
  }
  out.response = parser.release();
  if (out.response.keep_alive() && request.keep_alive() && buffer.size() == 0) {
    stream.expires_never();
    pool.give(host.endpoint, std::move(owned));
  } else {
    beast::error_code ignored;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  }
  co_return out;
}

// On a new connection: connect within connect_timeout (or the deadline, if sooner), then send.
boost::asio::awaitable<UpstreamResult> connectAndSend(const Host& host, const ClusterView& cluster, const Request& request,
                                                      std::chrono::steady_clock::time_point deadline, UpstreamPool& pool) {
  UpstreamResult out;
  beast::error_code ec;
  auto owned = std::make_unique<beast::tcp_stream>(co_await boost::asio::this_coro::executor);
  beast::tcp_stream& stream = *owned;
  cluster.stats->upstream_cx_total++;
  auto now = std::chrono::steady_clock::now();
  bool deadlineFirst = deadline < now + cluster.connectTimeout;
  stream.expires_at(deadlineFirst ? deadline : now + cluster.connectTimeout);
  co_await stream.async_connect(host.endpoint, redirect_error(use_awaitable, ec));
  if (ec == beast::error::timeout) {
    if (deadlineFirst) {
      out.kind = UpstreamResult::kTimeout;
      co_return out;
    }
    cluster.stats->upstream_cx_connect_fail++;
    cluster.stats->upstream_cx_connect_timeout++;
    out.kind = UpstreamResult::kConnectTimeout;
    co_return out;
  }
  if (!ec) stream.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);  // as downstream, and as Envoy
  if (ec) {
    cluster.stats->upstream_cx_connect_fail++;
    out.kind = UpstreamResult::kConnectFailure;
    out.transportFailure = "delayed connect error: " + ec.message();
    co_return out;
  }
  co_return co_await send(owned, host, cluster, request, deadline, pool);
}

}  // namespace

boost::asio::awaitable<UpstreamResult> exchange(const Host& host, const ClusterView& cluster, const Request& request,
                                                std::chrono::steady_clock::time_point deadline, UpstreamPool& pool,
                                                bool mayReuse) {
  UpstreamPool::Stream pooled;
  if (mayReuse) pooled = pool.take(host.endpoint);
  if (pooled) {
    UpstreamResult out = co_await send(pooled, host, cluster, request, deadline, pool);
    // Reset before any response on a connection that sat idle: the upstream closed it meanwhile
    // (the peek in the pool missed it by a moment). Once more, on a new connection.
    if (out.kind != UpstreamResult::kReset) co_return out;
  }
  co_return co_await connectAndSend(host, cluster, request, deadline, pool);
}

}  // namespace meshd::proxy
