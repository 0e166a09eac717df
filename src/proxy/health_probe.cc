#include "proxy/health_probe.h"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proxy/h2/grpc.h"
#include "proxy/h2/grpc_health.h"
#include "proxy/h2/upstream_pool.h"
#include "proxy/timed_stream.h"

#include <sys/socket.h>

#include <cerrno>

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using envoy::config::core::v3::HealthCheck;

namespace {

constexpr const char* kUserAgent = "Envoy/HC";

// GET over HTTP/1.1, with the header names in lowercase and no `connection` field, as Envoy's
// codec writes it. `keep` says whether the connection may carry the next probe.
Task<ProbeResult> probeHttp1(TimedStream& stream, beast::flat_buffer& buffer, const HealthCheck::HttpHealthCheck& h,
                             const std::string& authority, bool& keep) {
  keep = false;
  http::request<http::empty_body> req{http::verb::get, h.path().empty() ? "/" : h.path(), 11};
  req.set("host", authority);
  req.set("user-agent", kUserAgent);
  beast::error_code ec;
  co_await http::async_write(stream, req, into(ec));
  if (ec) co_return ProbeResult::kNetworkFailure;
  http::response<http::string_body> res;
  co_await http::async_read(stream, buffer, res, into(ec));
  if (ec) co_return ProbeResult::kNetworkFailure;
  keep = res.keep_alive() && buffer.size() == 0;
  co_return res.result_int() == 200 ? ProbeResult::kPassed : ProbeResult::kFailed;
}

// Whether a kept connection is still open and quiet: the host may have closed it since.
bool stillOpen(TimedStream& stream) {
  char c;
  ssize_t n = ::recv(stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// One request over HTTP/2 (prior knowledge) and its whole response, within `deadline`: false when
// the stream failed or the deadline passed, else the response's status, body and trailers.
struct H2Exchange {
  unsigned status = 0;
  std::string contentType, body;
  h2::Headers trailers;
  bool streamTimedOut = false;  // the deadline passed with the stream open (its connection is fine)
};
// One request on the check's HTTP/2 connection (`pool` holds it; the caller drops it when it must
// not be reused).
Task<bool> exchangeH2(h2::UpstreamPool& pool, const Host& host, const std::string& cluster, const h2::Headers& head,
                      std::string_view body, Clock::time_point deadline, H2Exchange& out) {
  boost::system::error_code ec;
  auto stream = co_await pool.open(cluster, host.endpoint, h2::Settings{}, head, body.empty(), deadline, ec);
  if (!stream) co_return false;
  if (!body.empty()) {
    bool sent = co_await stream->send(body, true, deadline);
    if (!sent) co_return false;
  }
  h2::StreamResult r = co_await stream->awaitHead(deadline);
  out.streamTimedOut = r.kind == h2::StreamResult::kTimeout;
  if (!r.ok()) co_return false;
  for (const auto& [name, value] : stream->head()) {
    if (name == ":status") out.status = static_cast<unsigned>(std::atoi(value.c_str()));
    if (name == "content-type") out.contentType = value;
    if (name == "grpc-status") out.trailers.emplace_back(name, value);  // a trailers-only response
  }
  while (!stream->done()) {
    std::string_view piece = co_await stream->next(deadline, r);
    out.streamTimedOut = r.kind == h2::StreamResult::kTimeout;
    if (!r.ok()) co_return false;
    out.body.append(piece);
  }
  if (const h2::Headers* t = stream->trailers()) out.trailers.insert(out.trailers.end(), t->begin(), t->end());
  co_return true;
}

h2::Headers requestHead(std::string_view method, std::string_view path, const std::string& authority) {
  return {{":method", std::string(method)}, {":scheme", "http"}, {":authority", authority},
          {":path", std::string(path)}, {"user-agent", kUserAgent}};
}

Task<ProbeResult> probeHttp2(h2::UpstreamPool& pool, const Host& host, const std::string& cluster,
                             const HealthCheck::HttpHealthCheck& h, const std::string& authority, Clock::time_point deadline,
                             H2Exchange& res) {
  // Named, not temporaries in the co_await: GCC 12 destroys those twice.
  h2::Headers head = requestHead("GET", h.path().empty() ? std::string_view("/") : std::string_view(h.path()), authority);
  bool exchanged = co_await exchangeH2(pool, host, cluster, head, std::string_view(), deadline, res);
  if (!exchanged) co_return ProbeResult::kNetworkFailure;
  co_return res.status == 200 ? ProbeResult::kPassed : ProbeResult::kFailed;
}

// As Envoy's gRPC health checker: HTTP 200 with a gRPC content-type, one HealthCheckResponse whose
// status is SERVING, and grpc-status 0.
Task<ProbeResult> probeGrpc(h2::UpstreamPool& pool, const Host& host, const std::string& cluster,
                            const HealthCheck::GrpcHealthCheck& g, const std::string& authority,
                            std::chrono::milliseconds timeout, Clock::time_point deadline, H2Exchange& res) {
  h2::Headers head = requestHead("POST", grpc::kHealthCheckPath, authority);
  head.emplace_back("content-type", "application/grpc");
  head.emplace_back("te", "trailers");
  head.emplace_back("grpc-timeout", std::to_string(timeout.count()) + "m");
  std::string body = grpc::healthCheckRequest(g.service_name());
  bool exchanged = co_await exchangeH2(pool, host, cluster, head, body, deadline, res);
  if (!exchanged) co_return ProbeResult::kNetworkFailure;
  bool ok = res.status == 200 && grpc::isGrpcContentType(res.contentType);
  bool grpcOk = false;
  for (const auto& [name, value] : res.trailers) {
    if (name == "grpc-status") grpcOk = value == "0";
  }
  ok = ok && grpcOk && grpc::healthCheckStatus(res.body) == grpc::ServingStatus::kServing;
  co_return ok ? ProbeResult::kPassed : ProbeResult::kFailed;
}

}  // namespace

Task<ProbeResult> probeHealth(const Host& host, const HealthCheck& hc, const std::string& cluster,
                              ProbeConnection& connection) {
  auto timeout = toMillis(hc.timeout());
  auto deadline = Clock::now() + timeout;
  bool reuse = !hc.has_reuse_connection() || hc.reuse_connection().value();
  bool http2 = hc.has_http_health_check() && hc.http_health_check().codec_client_type() == envoy::type::v3::HTTP2;
  if (hc.has_grpc_health_check() || http2) {
    if (!connection.h2) connection.h2 = std::make_unique<h2::UpstreamPool>(co_await boost::asio::this_coro::executor);
    ProbeResult result;
    H2Exchange res;
    if (hc.has_grpc_health_check()) {
      const auto& g = hc.grpc_health_check();
      const std::string& authority = g.authority().empty() ? cluster : g.authority();
      result = co_await probeGrpc(*connection.h2, host, cluster, g, authority, timeout, deadline, res);
    } else {
      const auto& h = hc.http_health_check();
      const std::string& authority = h.host().empty() ? cluster : h.host();
      result = co_await probeHttp2(*connection.h2, host, cluster, h, authority, deadline, res);
    }
    // As Envoy: a network failure closes the connection (the next probe makes another), a timeout
    // too, but for a gRPC check's, which only resets its stream.
    bool keep = result != ProbeResult::kNetworkFailure || (hc.has_grpc_health_check() && res.streamTimedOut);
    if (!reuse || !keep) connection.h2.reset();
    co_return result;
  }
  if (connection.stream && !stillOpen(*connection.stream)) connection.stream.reset();
  if (!connection.stream) {
    connection.stream = std::make_unique<TimedStream>(co_await boost::asio::this_coro::executor);
    connection.buffer.clear();
    connection.stream->expiresAt(deadline);
    beast::error_code ec;
    co_await connection.stream->async_connect(host.endpoint, into(ec));
    if (ec) {
      connection.stream.reset();
      co_return ProbeResult::kNetworkFailure;
    }
  }
  if (!hc.has_http_health_check()) {  // TCP: connecting is passing
    connection.stream.reset();
    co_return ProbeResult::kPassed;
  }
  TimedStream& stream = *connection.stream;
  stream.expiresAt(deadline);
  const auto& h = hc.http_health_check();
  const std::string& authority = h.host().empty() ? cluster : h.host();
  bool keep = false;
  ProbeResult result = co_await probeHttp1(stream, connection.buffer, h, authority, keep);
  if (keep && reuse) {
    stream.expiresNever();
  } else {
    connection.stream.reset();
  }
  co_return result;
}

}  // namespace meshd::proxy
