#include "proxy/upstream.h"

#include <boost/asio/this_coro.hpp>

#include <charconv>

#include "proxy/body_reader.h"
#include "proxy/http_write.h"
#include "proxy/upstream_h2.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kResponseReadSize = 32 << 10;

// Sends the head, what the client sent of the body so far, and the rest as it arrives; then reads the
// response head. A body that arrived with the head goes in the same write.
Task<UpstreamResult> send(const Host& host, const ClusterView& cluster, const RequestHead& head, RequestBody& body,
                          RouteTimeouts& timeouts, UpstreamResponse& out) {
  TimedStream& stream = *out.stream;
  UpstreamResult result;
  if (out.aborted()) {  // the client went while the connection was coming
    result.kind = UpstreamResult::kDownstreamReset;
    co_return result;
  }
  beast::error_code ec, downstreamEc;
  cluster.stats->upstream_rq_total++;  // per attempt, as Envoy counts
  if (host.stats) host.stats->rq_total++;
  if (!body.done() && body.ready() && body.kept().empty()) co_await body.next(downstreamEc);
  if (body.done()) {
    if (!timeouts.deadline) timeouts.start();
    stream.expiresAt(timeouts.tryDeadline);
  } else {
    stream.expiresAfter(kUploadTimeout);
  }
  std::string headBytes;
  headBytes.reserve(512);
  head.serialize(headBytes);
  // As Envoy's HTTP/1 encoder: a request that ends with its head and gives no length says
  // "content-length: 0", unless its method has no body by definition.
  if (body.done() && body.kept().empty() && body.framing() != Framing::kChunked && !requestShouldHaveNoBody(head.method()) &&
      !head.find("content-length")) {
    headBytes.insert(headBytes.size() - 2, "content-length: 0\r\n");
  }
  PieceWrite write;
  if (!write.sendNow(stream, headBytes, body.kept(), body.framing(), body.done(), ec)) co_await write.rest(stream, ec);
  while (!ec && !downstreamEc && !body.done()) {
    std::string_view piece = co_await body.next(downstreamEc);
    if (downstreamEc) break;
    if (body.done()) {
      if (!timeouts.deadline) timeouts.start();
      stream.expiresAt(timeouts.tryDeadline);
    }
    if (!write.sendNow(stream, {}, piece, body.framing(), body.done(), ec)) co_await write.rest(stream, ec);
  }
  if (downstreamEc) co_return downstreamFailure(downstreamEc);
  if (!ec) out.requestSent = std::chrono::steady_clock::now();
  // Read with room for a typical response, so that a 16 KiB body takes 1-2 reads.
  bool headRequest = head.method() == "HEAD";
  Http1HeadParse parsed;
  while (!ec) {
    auto buffered = out.buffer.data();
    if (buffered.size() > 0) {
      parsed = Http1HeadParse::run(std::string_view(static_cast<const char*>(buffered.data()), buffered.size()),
                                   out.head(), headRequest, kMaxResponseHeaders, kMaxResponseHeadersCount);
      if (parsed.failed()) {
        result.kind = UpstreamResult::kProtocolError;
        co_return result;
      }
      if (parsed.kind == Http1HeadParse::kDone) {
        out.buffer.consume(parsed.used);
        // As Envoy without proxy_100_continue: an interim response is dropped, the final one follows.
        unsigned status = out.head().status();
        if (status < 200 && status != 101) continue;
        break;
      }
    }
    size_t n = co_await stream.async_read_some(out.buffer.prepare(kResponseReadSize), into(ec));
    out.buffer.commit(n);
  }
  if (ec == beast::error::timeout) {
    result.kind = UpstreamResult::kTimeout;
    result.perTryTimeout = timeouts.perTryFired();
    result.idleTimeout = timeouts.idleFired();
  } else if (ec) {
    result.kind = UpstreamResult::kReset;  // closed or reset before a whole head
  } else {
    out.http1(parsed);
    result.status = out.head().status();
  }
  co_return result;
}

// A new connection, in `slot`: connect within connect_timeout (or the route's deadline, if sooner).
Task<UpstreamResult> connect(const Host& host, const ClusterView& cluster, RouteTimeouts& timeouts,
                             UpstreamPool::Slot& slot, UpstreamResponse& out) {
  UpstreamResult result;
  beast::error_code ec;
  out.stream = std::make_unique<UpstreamPool::Connection>(Socket(co_await boost::asio::this_coro::executor), std::move(slot),
                                                        cluster.options);
  TimedStream& stream = *out.stream;
  stream.countBytes(cluster.stats, &cluster.stats->upstream_cx_rx_bytes_total, &cluster.stats->upstream_cx_tx_bytes_total);
  cluster.stats->upstream_cx_total++;
  cluster.stats->upstream_cx_http1_total++;
  if (host.stats) host.stats->cx_total++;
  auto now = Clock::now();
  bool deadlineFirst = timeouts.deadline && timeouts.tryDeadline < now + cluster.connectTimeout;
  stream.expiresAt(deadlineFirst ? timeouts.tryDeadline : now + cluster.connectTimeout);
  co_await stream.async_connect(host.endpoint, into(ec));
  if (out.aborted()) {  // the client went meanwhile: not the host's failure
    result.kind = UpstreamResult::kDownstreamReset;
    co_return result;
  }
  if (ec == beast::error::timeout) {
    if (deadlineFirst) {
      result.kind = UpstreamResult::kTimeout;
      result.perTryTimeout = timeouts.perTryFired();
      result.idleTimeout = timeouts.idleFired();
      co_return result;
    }
    cluster.stats->upstream_cx_connect_fail++;
    cluster.stats->upstream_cx_connect_timeout++;
    if (host.stats) host.stats->cx_connect_fail++;
    result.kind = UpstreamResult::kConnectTimeout;
    co_return result;
  }
  if (!ec) stream.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);  // as downstream, and as Envoy
  if (ec) {
    cluster.stats->upstream_cx_connect_fail++;
    if (host.stats) host.stats->cx_connect_fail++;
    result.kind = UpstreamResult::kConnectFailure;
    result.transportFailure = connectFailureReason(ec, host.endpoint);
  }
  co_return result;
}

}  // namespace

UpstreamResult downstreamFailure(const beast::error_code& ec) {
  UpstreamResult r;
  r.kind = ec == beast::error::timeout ? UpstreamResult::kTimeout : UpstreamResult::kDownstreamReset;
  r.idleTimeout = r.kind == UpstreamResult::kTimeout;
  return r;
}

boost::asio::ip::tcp::endpoint UpstreamResponse::localEndpoint() const {
  boost::system::error_code ec;
  boost::asio::ip::tcp::endpoint e;
  if (h2) e = h2->localEndpoint();
  else if (stream) e = stream->socket().local_endpoint(ec);
  return ec ? boost::asio::ip::tcp::endpoint() : e;
}

void UpstreamResponse::close() {
  dropBody();
  parser_.reset();
  keptTrailers_.reset();
  headOnly_ = false;
  h2.reset();  // an HTTP/2 stream not complete is cancelled; its connection goes on
  if (!stream) return;
  beast::error_code ignored;
  stream->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  stream.reset();
}

void UpstreamResponse::abort() {
  aborted_ = true;
  poolWait_.cancel();
  // What waits on them fails at once; they go when the waiter is done with them.
  if (h2) h2->reset(h2::ErrorCode::kNoError);
  beast::error_code ignored;
  if (stream) stream->socket().close(ignored);
}

std::optional<uint64_t> UpstreamResponse::length() const {
  if (!h2) return http1_.framing == BodyFraming::kLength ? std::optional(http1_.length) : std::nullopt;
  auto v = head_.find("content-length");
  uint64_t n = 0;
  if (!v || std::from_chars(v->data(), v->data() + v->size(), n).ec != std::errc()) return std::nullopt;
  return n;
}

BodySource& UpstreamResponse::body(std::chrono::steady_clock::time_point deadline) {
  dropBody();
  if (h2) {
    h2Body_ = h2ResponseBody(*h2, deadline, idle);
    return *h2Body_;
  }
  std::optional<std::chrono::milliseconds> readTimeout;
  if (idle.count() > 0) {
    readTimeout = idle;
  } else {
    stream->expiresAt(deadline);
  }
  switch (http1_.framing) {
    case BodyFraming::kNone: return h1Body_.emplace(*stream, buffer, 0, readTimeout, deadline);
    case BodyFraming::kLength: return h1Body_.emplace(*stream, buffer, http1_.length, readTimeout, deadline);
    case BodyFraming::kChunked:
    case BodyFraming::kClose: break;
  }
  if (http1_.framing == BodyFraming::kClose) stream->readUntilClosed();  // the connection is not reused
  // Beast takes the head again (it was checked already) and then decodes the body.
  parser_.emplace();
  parser_->body_limit(kNoBodyLimit);
  parser_->header_limit(kMaxResponseHeaders);
  beast::error_code ec;
  std::string_view raw = head_.raw();
  parser_->put(boost::asio::buffer(raw.data(), raw.size()), ec);
  return h1Body_.emplace(*stream, buffer, *parser_, readTimeout, deadline);
}

void UpstreamResponse::release(bool reusable, UpstreamPool& pool) {
  dropBody();  // a BodyReader gives back what it held of the buffer
  if (h2) {
    keptTrailers_ = h2->takeTrailers();
    headOnly_ = h2->headEndedStream();
    h2.reset();
  } else if (reusable && !aborted_ && stream && stream->socket().is_open() && http1_.keepAlive && buffer.size() == 0) {
    stream->expiresNever();
    pool.give(cluster, host, std::move(stream));
  } else {
    close();
  }
}

Task<UpstreamResult> exchange(const Host& host, const ClusterView& cluster, const RequestHead& head, RequestBody& body, RouteTimeouts& timeouts, UpstreamPool& pool, h2::UpstreamPool& h2pool,
                              UpstreamResponse& out) {
  out.close();
  out.buffer.clear();
  out.requestSent = {};
  out.cluster = cluster.name;
  out.host = host.endpoint;
  if (cluster.http2) co_return co_await exchangeH2(host, cluster, head, body, timeouts, h2pool, out);
  // A request already complete starts the timeouts now, so they bound the connect too; a retry
  // starts its own per-try timeout while the route's deadline runs on.
  if (timeouts.deadline || body.done()) timeouts.start();
  for (;;) {
    // A pending request waits as long as the route's deadline (as Envoy's, whose per-try timer
    // starts once the request has a connection), or while its body still comes, as an upload.
    auto waitUntil = timeouts.deadline ? std::min(*timeouts.deadline, timeouts.idleDeadline) : Clock::now() + kUploadTimeout;
    UpstreamPool::Acquired got;
    got.stream = pool.take(cluster.name, host.endpoint);  // the usual case, without a coroutine of its own
    if (got.stream) {
      got.kind = UpstreamPool::Acquired::kReused;
    } else {
      got = co_await pool.acquire(cluster.name, cluster.stats, host.stats, cluster.breakers, host.endpoint, waitUntil,
                                  out.poolWait());
    }
    UpstreamResult result;
    if (out.aborted()) {  // the client went while this request waited: a connection it got is not used
      if (got.stream) pool.give(cluster.name, host.endpoint, std::move(got.stream));
      result.kind = UpstreamResult::kDownstreamReset;
      co_return result;
    }
    switch (got.kind) {
      case UpstreamPool::Acquired::kOverflow: result.kind = UpstreamResult::kOverflow; co_return result;
      case UpstreamPool::Acquired::kCancelled: result.kind = UpstreamResult::kDownstreamReset; co_return result;
      case UpstreamPool::Acquired::kTimeout:
        result.kind = UpstreamResult::kTimeout;
        result.idleTimeout = timeouts.deadline && timeouts.idleDeadline < *timeouts.deadline;
        co_return result;
      case UpstreamPool::Acquired::kConnect: {
        UpstreamResult connected = co_await connect(host, cluster, timeouts, got.slot, out);
        if (connected.kind != UpstreamResult::kOk) co_return connected;
        got.pending.end();
        co_return co_await send(host, cluster, head, body, timeouts, out);
      }
      case UpstreamPool::Acquired::kReused:
      case UpstreamPool::Acquired::kHandedOver: break;
    }
    out.stream = std::move(got.stream);
    result = co_await send(host, cluster, head, body, timeouts, out);
    // Reset before any response on a connection that sat idle: the upstream closed it meanwhile
    // (the peek in the pool missed it by a moment). Again, on another connection, if the body can
    // be sent again.
    if (result.kind != UpstreamResult::kReset || !body.replayable() || out.aborted()) co_return result;
    out.close();
    out.buffer.clear();
  }
}

}  // namespace meshd::proxy
