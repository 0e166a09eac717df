// The HTTP/1.1 connection manager: read a request, route it, forward it with retries and the route
// timeout, answer with the upstream's response or Envoy's local reply; repeat while keep-alive holds.
#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proxy/access_log.h"
#include "proxy/http_write.h"
#include "proxy/load_balancer.h"
#include "proxy/local_reply.h"
#include "proxy/outlier_detector.h"
#include "proxy/route_match.h"
#include "proxy/sessions.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::awaitable;
using boost::asio::redirect_error;
using boost::asio::use_awaitable;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(300);
constexpr auto kDefaultRouteTimeout = std::chrono::milliseconds(15000);
constexpr size_t kMaxRequestBody = 64 << 20;

std::chrono::milliseconds toMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

Response localResponse(const LocalReply& r, unsigned version) {
  Response res{static_cast<http::status>(r.status), version};
  if (!r.body.empty()) {
    res.set("content-type", "text/plain");  // Envoy writes header names in lowercase
    res.body() = r.body;
  }
  return res;
}

// Framing headers as Envoy writes them (lowercase names): content-length, and connection: close
// when the connection ends after this response.
void frame(Response& res, bool keepAlive, bool head) {
  if (!head) res.erase(http::field::content_length);  // a HEAD reply keeps the length it announces
  res.erase(http::field::transfer_encoding);
  res.erase(http::field::connection);
  unsigned s = res.result_int();
  bool bodiless = s < 200 || s == 204 || s == 304;
  if (!bodiless && !head) res.set("content-length", std::to_string(res.body().size()));
  if (!keepAlive) res.set("connection", "close");
}

// Which failures the route's retry_on covers.
struct RetryPolicy {
  uint32_t numRetries = 0;
  bool onConnectFailure = false;
  bool on5xx = false;
  bool onGatewayError = false;
  bool onReset = false;
  std::chrono::milliseconds perTry{0};

  explicit RetryPolicy(const envoy::config::route::v3::RouteAction& a) {
    if (!a.has_retry_policy()) return;
    const auto& p = a.retry_policy();
    numRetries = p.has_num_retries() ? p.num_retries().value() : 1;
    std::string_view on = p.retry_on();
    while (!on.empty()) {
      size_t comma = on.find(',');
      std::string_view e = on.substr(0, comma);
      onConnectFailure |= e == "connect-failure" || e == "5xx" || e == "gateway-error";
      on5xx |= e == "5xx";
      onGatewayError |= e == "gateway-error";
      onReset |= e == "reset" || e == "5xx" || e == "gateway-error";
      on = comma == std::string_view::npos ? std::string_view() : on.substr(comma + 1);
    }
    if (p.has_per_try_timeout()) perTry = toMillis(p.per_try_timeout());
  }

  bool retriable(const UpstreamResult& r) const {
    switch (r.kind) {
      case UpstreamResult::kConnectFailure:
      case UpstreamResult::kConnectTimeout: return onConnectFailure;
      case UpstreamResult::kReset: return onReset;
      case UpstreamResult::kTimeout: return false;
      case UpstreamResult::kOk: {
        unsigned s = r.response.result_int();
        return (on5xx && s >= 500) || (onGatewayError && s >= 502 && s <= 504);
      }
    }
    return false;
  }
};

// Routes and forwards one request; returns the response to send downstream. Moves `req` into the
// upstream request once routed.
awaitable<Response> handle(Worker& worker, const FilterChainView& chain, Request& req, RequestLog& log) {
  ConfigPtr config = worker.config();  // this request's snapshot, whatever arrives meanwhile
  unsigned version = req.version();
  auto rc = config->routes.find(chain.routeConfigName);
  if (rc == config->routes.end()) {
    log.addFlag("NR");
    co_return localResponse(noRoute(), version);
  }
  std::string host(req[http::field::host]);
  RequestView view{std::string_view(req.method_string().data(), req.method_string().size()),
                   std::string_view(req.target().data(), req.target().size()), host,
                   [&req](std::string_view name) -> std::optional<std::string_view> {
                     auto it = req.find(beast::string_view(name.data(), name.size()));
                     if (it == req.end()) return std::nullopt;
                     return std::string_view(it->value().data(), it->value().size());
                   }};
  const auto* vh = selectVirtualHost(*rc->second, host);
  const auto* route = vh ? matchRoute(*vh, view) : nullptr;
  if (!route || !route->has_route()) {
    chain.httpStats->no_route++;
    log.addFlag("NR");
    co_return localResponse(noRoute(), version);
  }
  const auto& action = route->route();
  auto cluster = config->clusters.find(pickCluster(action, worker.random()));
  bool logging = !chain.accessLogs.empty();  // the log's strings are built only for an access log
  if (logging && cluster != config->clusters.end()) log.upstreamCluster = cluster->first;
  if (cluster == config->clusters.end()) {
    log.addFlag("NC");
    co_return localResponse(clusterNotFound(), version);
  }
  const ClusterView& c = *cluster->second;
  // Circuit breaking: the in-flight count is shared by every worker (an atomic, no lock).
  uint64_t active = ++c.stats->upstream_rq_active;
  struct Release {
    std::atomic<uint64_t>& n;
    ~Release() { --n; }
  } release{c.stats->upstream_rq_active};
  if (active > c.maxRequests || active > c.maxConnectionsPlusPending) {
    c.stats->upstream_rq_pending_overflow++;
    log.addFlag("UO");
    co_return localResponse(upstreamReset(kOverflow, "", false), version);
  }

  // The upstream request is the downstream one, moved (not copied: every header is an allocation).
  std::string target = rewriteTarget(*route, std::string_view(req.target().data(), req.target().size()));
  Request up = std::move(req);
  stripHopByHop(up);
  up.version(11);
  up.target(target);
  if (!action.host_rewrite_literal().empty()) up.set(http::field::host, action.host_rewrite_literal());
  up.prepare_payload();

  auto timeout = action.has_timeout() ? toMillis(action.timeout()) : kDefaultRouteTimeout;
  auto start = std::chrono::steady_clock::now();
  auto deadline = timeout.count() == 0 ? start + std::chrono::hours(24 * 365) : start + timeout;
  RetryPolicy retry(action);
  UpstreamResult result;
  for (uint32_t attempt = 0;; ++attempt) {
    const Host* h = pickHost(c, worker.roundRobin(c.name));
    if (!h) {
      c.stats->upstream_cx_none_healthy++;
      log.addFlag("UH");
      co_return localResponse(noHealthyUpstream(), version);
    }
    auto tryDeadline = retry.perTry.count() > 0 ? std::min(deadline, std::chrono::steady_clock::now() + retry.perTry) : deadline;
    if (logging) log.upstreamHost = (h->endpoint.address().is_v6() ? "[" + h->address + "]" : h->address) + ":" + std::to_string(h->port);
    result = co_await exchange(*h, c, up, tryDeadline, worker.pool());
    bool failed = result.kind != UpstreamResult::kOk || result.response.result_int() >= 500;
    if (countForOutlierDetection(c, *h, failed)) worker.reportOutlier(c.name, h->key());
    bool perTryTimedOut = result.kind == UpstreamResult::kTimeout && tryDeadline < deadline;
    if (attempt < retry.numRetries && std::chrono::steady_clock::now() < deadline &&
        (retry.retriable(result) || perTryTimedOut)) {
      c.stats->upstream_rq_retry++;
      continue;
    }
    bool retried = attempt > 0;
    // Envoy's order: the failure's own flag, then URX when retries ran out.
    auto flag = [&](const char* f) {
      log.addFlag(f);
      if (retried) log.addFlag("URX");
    };
    switch (result.kind) {
      case UpstreamResult::kOk: {
        Response res = std::move(result.response);
        stripHopByHop(res);
        res.version(version);
        co_return res;
      }
      case UpstreamResult::kTimeout:
        c.stats->upstream_rq_timeout++;
        log.addFlag("UT");
        co_return localResponse(upstreamTimeout(), version);
      case UpstreamResult::kConnectFailure:
        flag("UF");
        co_return localResponse(upstreamReset(kRemoteConnectionFailure, result.transportFailure, retried), version);
      case UpstreamResult::kConnectTimeout:
        flag("UF");
        co_return localResponse(upstreamReset(kConnectionTimeout, "", retried), version);
      case UpstreamResult::kReset:
        flag("UC");
        co_return localResponse(upstreamReset(kConnectionTermination, "", retried), version);
    }
  }
}

}  // namespace

awaitable<void> serveHttp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain,
                          std::shared_ptr<ListenerDrain> drain) {
  chain.httpStats->downstream_cx_total++;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxRequestBody);
    if (drain->draining()) break;
    stream.expires_after(kIdleTimeout);
    {
      ListenerDrain::Idle idle(*drain, stream);
      co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    }
    if (ec == http::error::body_limit) {
      Response res = localResponse({413, "Payload Too Large"}, 11);
      frame(res, false, false);
      co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
      break;
    }
    if (ec) break;
    Request req = parser.release();
    chain.httpStats->downstream_rq_total++;
    bool keepAlive = req.keep_alive();
    stream.expires_never();
    RequestLog log;
    log.start = std::chrono::system_clock::now();
    auto started = std::chrono::steady_clock::now();
    if (!chain.accessLogs.empty()) {
      auto field = [&req](http::field f) { return std::string(req[f]); };
      log.method = std::string(req.method_string());
      log.path = std::string(req.target());
      log.protocol = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
      log.authority = field(http::field::host);
      log.userAgent = field(http::field::user_agent);
      log.forwardedFor = std::string(req["x-forwarded-for"]);
      log.requestId = std::string(req["x-request-id"]);
      log.bytesReceived = req.body().size();
      boost::system::error_code ignored;
      auto remote = stream.socket().remote_endpoint(ignored);
      if (!ignored) log.downstreamRemote = (remote.address().is_v6() ? "[" + remote.address().to_string() + "]" : remote.address().to_string()) + ":" + std::to_string(remote.port());
    }
    bool head = req.method() == http::verb::head;
    Response res = co_await handle(worker, chain, req, log);  // takes req's contents
    keepAlive = keepAlive && !drain->draining();
    frame(res, keepAlive, head);
    stream.expires_after(kIdleTimeout);
    std::string resHead;
    co_await writeMessage(stream, res, resHead, ec);
    if (!chain.accessLogs.empty()) {
      log.responseCode = res.result_int();
      log.bytesSent = res.body().size();
      log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      for (const auto& l : chain.accessLogs) l->write(log);
    }
    if (ec || !keepAlive) break;
  }
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace meshd::proxy
