#include "proxy/upstream_h2.h"

#include <charconv>

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// The request line and Host as HTTP/2 pseudo-headers; the codec lowercases names and drops the
// fields HTTP/2 forbids.
h2::Headers requestHeaders(const RequestHead& head) {
  h2::Headers h;
  h.reserve(head.size() + 4);
  h.emplace_back(":method", std::string(head.method()));
  h.emplace_back(":scheme", "http");
  h.emplace_back(":authority", std::string(head.host()));
  h.emplace_back(":path", std::string(head.target()));
  head.forEach([&h](const HeadFields::Field& f) {
    if (f.name.size() == 4 && head_parse::iequals(f.name, "host")) return;
    h.emplace_back(std::string(f.name), std::string(f.value));
  });
  return h;
}

class H2ResponseBody final : public BodySource {
 public:
  H2ResponseBody(h2::UpstreamStream& s, Clock::time_point deadline, std::chrono::milliseconds idle)
      : s_(s), deadline_(deadline), idle_(idle) {}
  bool done() const override { return s_.done(); }
  bool ready() const override { return s_.done() || s_.buffered() > 0; }
  bool chunked() const override { return true; }  // only for a request body's framing
  uint64_t bytes() const override { return bytes_; }
  Task<std::string_view> next(beast::error_code& ec) override {
    ec = {};
    h2::StreamResult r;
    auto until = idle_.count() > 0 ? std::min(deadline_, Clock::now() + idle_) : deadline_;
    std::string_view piece = co_await s_.next(until, r);
    if (!r.ok()) ec = r.kind == h2::StreamResult::kTimeout ? beast::error_code(beast::error::timeout)
                                                           : beast::error_code(http::error::partial_message);
    bytes_ += piece.size();
    co_return piece;
  }

 private:
  h2::UpstreamStream& s_;
  Clock::time_point deadline_;
  std::chrono::milliseconds idle_;
  uint64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<BodySource> h2ResponseBody(h2::UpstreamStream& stream, Clock::time_point deadline,
                                           std::chrono::milliseconds idle) {
  return std::make_unique<H2ResponseBody>(stream, deadline, idle);
}

Task<UpstreamResult> exchangeH2(const Host& host, const ClusterView& cluster, const RequestHead& head, RequestBody& body,
                                RouteTimeouts& timeouts, h2::UpstreamPool& pool, UpstreamResponse& out) {
  UpstreamResult result;
  cluster.stats->upstream_rq_total++;
  if (timeouts.deadline || body.done()) timeouts.start();
  auto now = Clock::now();
  bool deadlineFirst = timeouts.deadline && timeouts.tryDeadline < now + cluster.connectTimeout;
  boost::system::error_code ec;
  bool bodiless = body.done() && body.kept().empty();
  bool connected = false;  // this request made a connection attempt (others may share it)
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  h2::ClusterCounts counts{cluster.stats, host.stats, cluster.breakers.maxPendingRequests};
  out.h2 = co_await pool.open(cluster.name, host.endpoint, cluster.http2Settings, requestHeaders(head), bodiless,
                              deadlineFirst ? timeouts.tryDeadline : now + cluster.connectTimeout, ec, &connected,
                              cluster.options, counts);
  if (out.h2 && host.stats) host.stats->rq_total++;  // a stream on a connection, as Envoy counts a host's
  if (out.h2 && out.h2->lastOnItsConnection()) cluster.stats->upstream_cx_max_requests++;
  if (connected) {
    cluster.stats->upstream_cx_total++;
    cluster.stats->upstream_cx_http2_total++;
    if (host.stats) host.stats->cx_total++;
  }
  if (out.h2 && out.aborted()) {  // the client went while the stream was coming
    out.h2->reset(h2::ErrorCode::kNoError);
    result.kind = UpstreamResult::kDownstreamReset;
    co_return result;
  }
  if (!out.h2) {
    if (ec == boost::asio::error::no_buffer_space) {  // past max_pending_requests
      result.kind = UpstreamResult::kOverflow;
      co_return result;
    }
    if (ec == beast::error::timeout && deadlineFirst) {
      result.kind = UpstreamResult::kTimeout;
      result.perTryTimeout = timeouts.perTryFired();
      result.idleTimeout = timeouts.idleFired();
      co_return result;
    }
    if (connected) cluster.stats->upstream_cx_connect_fail++;
    if (connected && host.stats) host.stats->cx_connect_fail++;
    if (ec == beast::error::timeout) {
      if (connected) cluster.stats->upstream_cx_connect_timeout++;
      result.kind = UpstreamResult::kConnectTimeout;
    } else {
      result.kind = UpstreamResult::kConnectFailure;
      result.transportFailure = connectFailureReason(ec, host.endpoint);
    }
    co_return result;
  }
  // The body: what was kept (a retry's, or what came with the head), then the rest as it arrives.
  if (!bodiless) {
    beast::error_code downstreamEc;
    auto sendDeadline = [&] {
      if (!body.done()) return Clock::now() + kUploadTimeout;
      if (!timeouts.deadline) timeouts.start();
      return timeouts.tryDeadline;
    };
    bool sent = co_await out.h2->send(body.kept(), body.done(), sendDeadline());
    while (sent && !body.done()) {
      std::string_view piece = co_await body.next(downstreamEc);
      if (downstreamEc) co_return downstreamFailure(downstreamEc);
      sent = co_await out.h2->send(piece, body.done(), sendDeadline());
    }
    if (!sent && out.h2->failure().ok()) {  // the deadline passed with the body not taken
      result.kind = UpstreamResult::kTimeout;
      result.perTryTimeout = timeouts.perTryFired();
      result.idleTimeout = timeouts.idleFired();
      co_return result;
    }
  }
  if (!timeouts.deadline) timeouts.start();
  out.requestSent = Clock::now();  // handed to the connection whole
  h2::StreamResult r = co_await out.h2->awaitHead(timeouts.tryDeadline);
  switch (r.kind) {
    case h2::StreamResult::kOk: break;
    case h2::StreamResult::kTimeout:
      result.kind = UpstreamResult::kTimeout;
      result.perTryTimeout = timeouts.perTryFired();
      result.idleTimeout = timeouts.idleFired();
      co_return result;
    case h2::StreamResult::kProtocolError: result.kind = UpstreamResult::kProtocolError; co_return result;
    case h2::StreamResult::kReset:
    case h2::StreamResult::kRefused:
    case h2::StreamResult::kConnectionFailure:
      result.kind = UpstreamResult::kReset;
      result.resetReason = r.describe();
      result.refusedStream = r.kind == h2::StreamResult::kRefused;
      co_return result;
  }
  ResponseHead& res = out.head();
  res.clear();
  for (const auto& [name, value] : out.h2->head()) {
    if (name == ":status") {
      unsigned status = 0;
      std::from_chars(value.data(), value.data() + value.size(), status);
      res.status(status);
    } else if (name[0] != ':') {
      res.add(name, value);
    }
  }
  result.status = res.status();
  co_return result;
}

}  // namespace meshd::proxy
