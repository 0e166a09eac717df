#pragma once
// One attempt of a request at one upstream host over HTTP/1.1: connect (bounded by the cluster's
// connect_timeout), send the request head and its body as the body arrives from the client, and read
// the response head (bounded by the route's timeouts). Says how it failed in Envoy's terms so the
// caller can retry or answer with the matching local reply; on success the caller relays the
// response body (response_relay.h). Worker thread only.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "proxy/body_reader.h"
#include "proxy/config.h"
#include "proxy/h2/upstream_pool.h"
#include "proxy/request_body.h"
#include "proxy/request_head.h"
#include "proxy/response_head.h"
#include "proxy/upstream_pool.h"

namespace meshd::proxy {

// Local replies only: a streamed message has a header and a BodyReader instead.
using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// The route's timeouts. As Envoy's, both start once the whole request has been sent (for a streamed
// body, when its last piece went upstream); until then connect_timeout and the client's idle timeout
// bound an attempt.
// While the client's body is still arriving, the route timeout has not started: an upstream that
// stops reading it is bounded as an idle client would be.
inline constexpr std::chrono::seconds kUploadTimeout{300};

// Envoy's limits on a response head from an upstream (max_response_headers_kb and
// max_response_headers_count defaults), as on a request head from a client.
inline constexpr uint32_t kMaxResponseHeaders = 60 * 1024;
inline constexpr size_t kMaxResponseHeadersCount = 100;

struct RouteTimeouts {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds route{15000};  // 0: none
  std::chrono::milliseconds perTry{0};     // 0: none
  // The route's idle_timeout: Envoy's stream idle timer, which nothing resets between the request's
  // end and the response's head (retries are not downstream activity). 0: none.
  std::chrono::milliseconds idle{0};
  // x-envoy-upstream-rq-timeout-alt-response (an internal request's): a timeout is answered 204,
  // not 504, as Envoy's router.
  bool noContentOnTimeout = false;
  std::optional<Clock::time_point> deadline;  // the route's, once the request was sent whole
  Clock::time_point started;                  // then: when the request was whole
  Clock::time_point idleDeadline = Clock::time_point::max();  // likewise
  Clock::time_point tryDeadline;              // this attempt's: the earliest of the three

  bool expired() const { return deadline && Clock::now() >= *deadline; }
  // Starts the route's deadline and the idle one (once) and this attempt's, now.
  void start() {
    auto now = Clock::now();
    if (!deadline) {
      started = now;
      deadline = route.count() == 0 ? now + std::chrono::hours(24 * 365) : now + route;
      if (idle.count() > 0) idleDeadline = now + idle;
    }
    tryDeadline = perTry.count() > 0 ? std::min(*deadline, now + perTry) : *deadline;
    tryDeadline = std::min(tryDeadline, idleDeadline);
  }
  // Which deadline an attempt that timed out at tryDeadline ran into.
  bool idleFired() const { return tryDeadline == idleDeadline && idleDeadline < *deadline; }
  bool perTryFired() const { return tryDeadline < *deadline && !idleFired(); }
};

// The connection of one attempt and the response head read from it, owned by the caller so the
// relay can go on reading the body from where the head ended: an HTTP/1.1 connection of its own, or
// a stream of a shared HTTP/2 one (`h2`).
struct UpstreamResponse {
  UpstreamPool::Stream stream;
  std::string_view cluster;  // the attempt's cluster's name, in the request's config snapshot
  boost::asio::ip::tcp::endpoint host;
  boost::beast::flat_buffer buffer;
  std::unique_ptr<h2::UpstreamStream> h2;
  // The route's idle_timeout (0: none): once the head went downstream, the upstream may be silent
  // this long between pieces of the body (Envoy's stream idle timer, reset by what reaches the client).
  std::chrono::milliseconds idle{0};
  // From the request's end to this response's head, in ms: x-envoy-upstream-service-time (none,
  // as in Envoy, when the response came before the request's end).
  std::optional<uint64_t> serviceTime;
  // When the attempt's request was written whole (the access log's REQUEST_TX_DURATION); the
  // epoch while it was not.
  std::chrono::steady_clock::time_point requestSent{};

  // The address of this side of the attempt's connection; port 0 when there is none.
  boost::asio::ip::tcp::endpoint localEndpoint() const;
  // The response's head, from HTTP/1.1 or HTTP/2 alike.
  ResponseHead& head() { return head_; }
  const ResponseHead& head() const { return head_; }
  // HTTP/1.1: how the head said its body ends, and whether the connection stays open after it.
  void http1(const Http1HeadParse& parsed) {
    http1_ = parsed;
    headOnly_ = parsed.framing == BodyFraming::kNone || (parsed.framing == BodyFraming::kLength && parsed.length == 0);
  }
  // The body's length when the upstream announced it (then it goes on with it), else none.
  std::optional<uint64_t> length() const;
  // The body as it arrives, bounded by `deadline`; one source per response. It gives back what it
  // held of the connection's buffer as it goes.
  BodySource& body(std::chrono::steady_clock::time_point deadline);
  // HTTP/2 trailers, once the body's end was reached (kept past release(), for the access log);
  // nullptr for HTTP/1.1 (Envoy drops those).
  const h2::Headers* trailers() const {
    return h2 ? h2->trailers() : keptTrailers_ ? &*keptTrailers_ : nullptr;
  }
  // A response that is its head alone (gRPC's trailers-only): an HTTP/2 head that ended its stream,
  // an HTTP/1.1 head that frames no body (as Envoy's codec ends the stream with such a head).
  // Kept past release().
  bool trailersOnly() const { return h2 ? h2->headEndedStream() : headOnly_; }
  // Gives the connection back to `pool` when the response was read to its end and both sides keep
  // it alive (HTTP/1.1; an HTTP/2 stream just ends); closes or cancels it otherwise.
  void release(bool reusable, UpstreamPool& pool);
  // Drops the connection (a response not read to its end cannot be reused).
  void close();
  // The client went away: the exchange under way (or the relay of its body) stops at once, its
  // HTTP/2 stream reset (NO_ERROR, as Envoy's router) or its HTTP/1.1 connection closed, and no
  // new attempt begins.
  void abort();
  bool aborted() const { return aborted_; }
  // What abort() wakes when the request waits in the HTTP/1.1 pool for a connection.
  UpstreamPool::WaitCancel* poolWait() { return &poolWait_; }

 private:
  void dropBody() {
    h1Body_.reset();
    h2Body_.reset();
  }
  ResponseHead head_;
  Http1HeadParse http1_;
  // Only for a chunked or connection-delimited body: Beast's parser takes the head again and then
  // removes the chunk framing. A body of known length needs no parser.
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
  std::optional<BodyReader<false>> h1Body_;  // in place: one allocation less per response
  std::unique_ptr<BodySource> h2Body_;
  std::optional<h2::Headers> keptTrailers_;
  bool headOnly_ = false;
  bool aborted_ = false;
  UpstreamPool::WaitCancel poolWait_;
};

struct UpstreamResult;
// The attempt's end when reading the client's body failed: its idle timer ran out (a timeout, which
// the router answers 408), or the client went away.
UpstreamResult downstreamFailure(const boost::beast::error_code& ec);

struct UpstreamResult {
  // kProtocolError: the response head was malformed or over Envoy's limits (60 KiB, 100 fields).
  // kOverflow: the cluster's pending requests were at max_pending_requests (upstream_pool.h).
  enum Kind { kOk, kConnectFailure, kConnectTimeout, kReset, kProtocolError, kTimeout, kDownstreamReset, kOverflow };
  Kind kind = kOk;
  unsigned status = 0;           // kOk: the response's status
  bool perTryTimeout = false;    // kTimeout: this attempt's per_try_timeout, not the route's
  bool idleTimeout = false;      // kTimeout: the stream's idle timer (the route's idle_timeout)
  std::string transportFailure;  // kConnectFailure: "delayed connect error: Connection refused"
  std::string resetReason;       // kReset: Envoy's reason when not "connection termination" ("remote reset")
  bool refusedStream = false;    // kReset: an HTTP/2 REFUSED_STREAM (not processed: safe to retry)
};

// An HTTP/2 cluster's request goes on a stream of a `h2pool` connection (upstream_h2.h). Otherwise
// reuses an idle connection from `pool` when there is one, else opens one or waits for one within
// the cluster's circuit breakers (upstream_pool.h); a reused connection that turns out closed is
// replaced when the body can be sent again. kDownstreamReset: the client
// went away (or stalled past its idle timeout) while its body was being forwarded.
Task<UpstreamResult> exchange(const Host& host, const ClusterView& cluster, const RequestHead& head, RequestBody& body,
                              RouteTimeouts& timeouts, UpstreamPool& pool, h2::UpstreamPool& h2pool,
                              UpstreamResponse& out);

}  // namespace meshd::proxy
