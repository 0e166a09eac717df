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

#include "proxy/config.h"
#include "proxy/request_body.h"
#include "proxy/upstream_pool.h"

namespace meshd::proxy {

// Local replies only: a streamed message has a header and a BodyReader instead.
using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// The route's timeouts. As Envoy's, both start once the whole request has been sent (for a streamed
// body, when its last piece went upstream); until then connect_timeout and the client's idle timeout
// bound an attempt.
// Envoy's limits on a response head from an upstream (max_response_headers_kb and
// max_response_headers_count defaults), as on a request head from a client.
inline constexpr uint32_t kMaxResponseHeaders = 60 * 1024;
inline constexpr size_t kMaxResponseHeadersCount = 100;

struct RouteTimeouts {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds route{15000};  // 0: none
  std::chrono::milliseconds perTry{0};     // 0: none
  std::optional<Clock::time_point> deadline;  // the route's, once the request was sent whole
  Clock::time_point tryDeadline;              // this attempt's, likewise

  bool expired() const { return deadline && Clock::now() >= *deadline; }
};

// The connection of one attempt and the response head read from it, owned by the caller so the
// relay can go on reading the body from where the head ended.
struct UpstreamResponse {
  UpstreamPool::Stream stream;
  boost::asio::ip::tcp::endpoint host;
  boost::beast::flat_buffer buffer;
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser;

  boost::beast::http::response_header<>& head() { return parser->get(); }
  // Drops the connection (a response not read to its end cannot be reused).
  void close();
};

struct UpstreamResult {
  // kProtocolError: the response head was malformed or over Envoy's limits (60 KiB, 100 fields).
  enum Kind { kOk, kConnectFailure, kConnectTimeout, kReset, kProtocolError, kTimeout, kDownstreamReset };
  Kind kind = kOk;
  unsigned status = 0;           // kOk: the response's status
  bool perTryTimeout = false;    // kTimeout: this attempt's per_try_timeout, not the route's
  std::string transportFailure;  // kConnectFailure: "delayed connect error: Connection refused"
};

// Reuses an idle connection from `pool` when there is one; a reused connection that turns out
// closed is replaced by a new one when the body can be sent again. kDownstreamReset: the client
// went away (or stalled past its idle timeout) while its body was being forwarded.
Task<UpstreamResult> exchange(const Host& host, const ClusterView& cluster,
                                                const boost::beast::http::request_header<>& head, RequestBody& body,
                                                RouteTimeouts& timeouts, UpstreamPool& pool, UpstreamResponse& out);

// Removes the hop-by-hop headers (connection, keep-alive, proxy-connection, te, trailer,
// transfer-encoding, upgrade): one pass comparing the field codes the parser already computed.
template <typename Message>
void stripHopByHop(Message& m) {
  using boost::beast::http::field;
  for (auto it = m.begin(); it != m.end();) {
    switch (it->name()) {
      case field::connection:
      case field::keep_alive:
      case field::proxy_connection:
      case field::te:
      case field::trailer:
      case field::transfer_encoding:
      case field::upgrade: it = m.erase(it); break;
      default: ++it;
    }
  }
}

}  // namespace meshd::proxy
