// The HTTP/1.1 connection manager: read a request's head, route it, forward it with its body as the
// body arrives (with retries while the body is still kept, and the route timeout), relay the
// upstream's response as it arrives or answer with Envoy's local reply; repeat while keep-alive holds.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proxy/access_log.h"
#include "proxy/http_write.h"
#include "proxy/load_balancer.h"
#include "proxy/local_reply.h"
#include "proxy/original_dst.h"
#include "proxy/outlier_detector.h"
#include "proxy/request_body.h"
#include "proxy/response_relay.h"
#include "proxy/route_match.h"
#include "proxy/sessions.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(300);
// Envoy's max_request_headers_kb and max_headers_count defaults: a bigger request head, or one with
// more fields, is answered 431.
constexpr uint32_t kMaxRequestHeaders = 60 * 1024;
constexpr size_t kMaxRequestHeadersCount = 100;
constexpr auto kDefaultRouteTimeout = std::chrono::milliseconds(15000);

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
      case UpstreamResult::kReset:
      case UpstreamResult::kProtocolError: return onReset;  // to Envoy's router both are a stream reset
      case UpstreamResult::kTimeout:
      case UpstreamResult::kDownstreamReset: return false;
      case UpstreamResult::kOk: return (on5xx && r.status >= 500) || (onGatewayError && r.status >= 502 && r.status <= 504);
    }
    return false;
  }
};

// Framing headers of a relayed response head, as frame() does for local replies: content-length
// when the upstream said it, else chunked (or, to an HTTP/1.0 client, the connection's close).
Framing frameRelayed(http::response_header<>& res, const http::response_parser<http::buffer_body>& parser,
                     bool& keepAlive, bool head) {
  if (!head) res.erase(http::field::content_length);  // a HEAD reply keeps the length it announces
  res.erase(http::field::transfer_encoding);
  res.erase(http::field::connection);
  unsigned s = res.result_int();
  bool bodiless = head || s < 200 || s == 204 || s == 304;
  Framing framing = Framing::kRaw;
  if (!bodiless && !parser.chunked() && parser.content_length()) {
    res.set("content-length", std::to_string(*parser.content_length()));
  } else if (!bodiless && res.version() == 11) {
    res.set("transfer-encoding", "chunked");
    framing = Framing::kChunked;
  } else if (!bodiless) {
    keepAlive = false;
  }
  if (!keepAlive) res.set("connection", "close");
  return framing;
}

// The downstream side of one request.
struct Downstream {
  TimedStream& stream;
  ListenerDrain& drain;
  RequestLog& log;
  unsigned version;
  bool head;       // a HEAD request
  bool keepAlive;  // the client's wish
};

// Answers with a local reply. Returns whether the connection serves another request: not when
// draining, and not when the client's body was not all read (as Envoy, which closes rather than
// read what is left of it as a next request); what already arrived of a body is read past.
Task<bool> reply(Downstream& d, RequestBody& body, const LocalReply& r) {
  beast::error_code ec;
  while (!body.done() && body.ready() && !ec) co_await body.next(ec);
  Response res = localResponse(r, d.version);
  bool keepAlive = d.keepAlive && body.done() && !ec && !d.drain.draining();
  frame(res, keepAlive, d.head);
  d.stream.expiresAfter(kIdleTimeout);
  std::string head;
  co_await writeMessage(d.stream, res, head, ec);
  d.log.responseCode = res.result_int();
  d.log.bytesSent = res.body().size();
  co_return !ec && keepAlive;
}

// `Expect: 100-continue`, as Envoy without proxy_100_continue (its default): the proxy itself tells
// the client to go on with its body, and the upstream never sees the expectation. False when the
// client went away.
Task<bool> continueIfExpected(TimedStream& stream, http::request_header<>& req) {
  auto expect = req.find(http::field::expect);
  if (req.version() != 11 || expect == req.end() || !beast::iequals(expect->value(), "100-continue")) co_return true;
  req.erase(expect);
  static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
  beast::error_code ec;
  stream.expiresAfter(kIdleTimeout);
  co_await boost::asio::async_write(stream, boost::asio::buffer(k100.data(), k100.size()), into(ec));
  co_return !ec;
}

// Counts a request in flight at a host for least request balancing, as long as it lives.
class InFlight {
 public:
  ~InFlight() { set(nullptr); }
  void set(const Host* h) {
    if (load_) load_->active.fetch_sub(1, std::memory_order_relaxed);
    load_ = h ? h->load.get() : nullptr;
    if (load_) load_->active.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  HostLoad* load_ = nullptr;
};

// Routes and forwards one request and answers it. Moves the head's fields into the upstream request
// once routed. Returns whether the connection serves another request.
Task<bool> handle(Worker& worker, const FilterChainView& chain, http::request_header<>& req, RequestBody& body,
                       Downstream& d) {
  ConfigPtr config = worker.config();  // this request's snapshot, whatever arrives meanwhile
  RequestLog& log = d.log;
  auto rc = config->routes.find(chain.routeConfigName);
  if (rc == config->routes.end()) {
    log.addFlag("NR");
    co_return co_await reply(d, body, noRoute());
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
    co_return co_await reply(d, body, noRoute());
  }
  const auto& action = route->route();
  auto cluster = config->clusters.find(pickCluster(action, worker.random()));
  bool logging = !chain.accessLogs.empty();  // the log's strings are built only for an access log
  if (logging && cluster != config->clusters.end()) log.upstreamCluster = cluster->first;
  if (cluster == config->clusters.end()) {
    log.addFlag("NC");
    co_return co_await reply(d, body, clusterNotFound());
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
    co_return co_await reply(d, body, upstreamReset(kOverflow, "", false));
  }

  // The upstream request head is the downstream one, moved (not copied: every header is an
  // allocation). The body keeps its framing: chunked stays chunked, a length stays a length.
  std::string target = rewriteTarget(*route, std::string_view(req.target().data(), req.target().size()));
  http::request_header<> up = std::move(req);
  stripHopByHop(up);
  up.version(11);
  up.target(target);
  if (!action.host_rewrite_literal().empty()) up.set(http::field::host, action.host_rewrite_literal());
  if (body.framing() == Framing::kChunked) up.set(http::field::transfer_encoding, "chunked");

  RetryPolicy retry(action);
  RouteTimeouts timeouts;
  timeouts.route = action.has_timeout() ? toMillis(action.timeout()) : kDefaultRouteTimeout;
  timeouts.perTry = retry.perTry;
  UpstreamResponse response;
  InFlight inFlight;
  UpstreamResult result;
  Host originalDst;  // an ORIGINAL_DST cluster's host: where the downstream connection was headed
  for (uint32_t attempt = 0;; ++attempt) {
    const Host* h = c.originalDst ? useOriginalDst(c, log.downstreamLocal, originalDst)
                                  : selectHost(c, worker.roundRobin(c.name), worker.random());
    if (!h) {
      c.stats->upstream_cx_none_healthy++;
      log.addFlag("UH");
      co_return co_await reply(d, body, noHealthyUpstream());
    }
    inFlight.set(h);
    if (logging) log.upstreamHost = (h->endpoint.address().is_v6() ? "[" + h->address + "]" : h->address) + ":" + std::to_string(h->port);
    result = co_await exchange(*h, c, up, body, timeouts, worker.pool(), response);
    if (result.kind == UpstreamResult::kDownstreamReset) {
      log.addFlag("DC");
      co_return false;
    }
    bool failed = result.kind != UpstreamResult::kOk || result.status >= 500;
    if (countForOutlierDetection(c, *h, failed)) worker.reportOutlier(c.name, h->key());
    // Envoy retries only while it still holds the whole body it sent.
    if (attempt < retry.numRetries && !timeouts.expired() && body.replayable() &&
        (retry.retriable(result) || result.perTryTimeout)) {
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
      case UpstreamResult::kOk: break;
      case UpstreamResult::kTimeout:
        c.stats->upstream_rq_timeout++;
        log.addFlag("UT");
        co_return co_await reply(d, body, upstreamTimeout());
      case UpstreamResult::kConnectFailure:
        flag("UF");
        co_return co_await reply(d, body, upstreamReset(kRemoteConnectionFailure, result.transportFailure, retried));
      case UpstreamResult::kConnectTimeout:
        flag("UF");
        co_return co_await reply(d, body, upstreamReset(kConnectionTimeout, "", retried));
      case UpstreamResult::kProtocolError:
        flag("UPE");
        co_return co_await reply(d, body, upstreamReset(kProtocolError, "", retried));
      case UpstreamResult::kReset:
      case UpstreamResult::kDownstreamReset:
        flag("UC");
        co_return co_await reply(d, body, upstreamReset(kConnectionTermination, "", retried));
    }
    break;
  }

  // The response: its head now, its body as it arrives. From here only the route's deadline bounds
  // the upstream (as Envoy, a per-try timeout no longer applies once the response has started).
  http::response_header<>& res = response.head();
  stripHopByHop(res);
  res.version(d.version);
  bool keepAlive = d.keepAlive && body.done() && !d.drain.draining();
  Framing framing = frameRelayed(res, *response.parser, keepAlive, d.head);
  response.stream->expiresAt(*timeouts.deadline);
  RelayResult relayed = co_await relayResponse(d.stream, response, headOf(res), framing, kIdleTimeout, worker.pool());
  log.responseCode = result.status;
  log.bytesSent = relayed.bodyBytes;
  switch (relayed.kind) {
    case RelayResult::kDone: co_return keepAlive;
    case RelayResult::kUpstreamTimeout:  // too late for a 504: the stream is reset
      c.stats->upstream_rq_timeout++;
      log.addFlag("UT");
      co_return false;
    case RelayResult::kUpstreamReset: log.addFlag("UC"); co_return false;
    case RelayResult::kDownstreamReset: log.addFlag("DC"); co_return false;
  }
  co_return false;
}

}  // namespace

Task<void> serveHttp(Worker& worker, Socket socket, FilterChainView chain,
                          std::shared_ptr<ListenerDrain> drain, boost::asio::ip::tcp::endpoint downstreamLocal) {
  chain.httpStats->downstream_cx_total++;
  TimedStream stream(std::move(socket));
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(kNoBodyLimit);
    parser.header_limit(kMaxRequestHeaders);
    if (drain->draining()) break;
    stream.expiresAfter(kIdleTimeout);
    {
      ListenerDrain::Idle idle(*drain, stream);
      co_await http::async_read_header(stream, buffer, parser, into(ec));
    }
    bool tooMany = !ec && static_cast<size_t>(std::distance(parser.get().begin(), parser.get().end())) > kMaxRequestHeadersCount;
    if (tooMany || (ec && ec.category() == make_error_code(http::error::header_limit).category() &&
                    ec != http::error::end_of_stream && ec != http::error::partial_message)) {
      // A request the codec cannot take: Envoy answers and closes (response flag DPE).
      Response res = localResponse(tooMany || ec == http::error::header_limit ? requestHeadersTooLarge() : badRequest(), 11);
      frame(res, false, false);
      std::string head;
      co_await writeMessage(stream, res, head, ec);
      break;
    }
    if (ec) break;
    http::request_header<>& req = parser.get();
    if (!co_await continueIfExpected(stream, req)) break;
    BodyReader<true> reader(stream, buffer, parser, kIdleTimeout);
    RequestBody body(reader);
    chain.httpStats->downstream_rq_total++;
    stream.expiresNever();
    RequestLog log;
    log.downstreamLocal = downstreamLocal;
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
      boost::system::error_code ignored;
      auto remote = stream.socket().remote_endpoint(ignored);
      if (!ignored) log.downstreamRemote = (remote.address().is_v6() ? "[" + remote.address().to_string() + "]" : remote.address().to_string()) + ":" + std::to_string(remote.port());
    }
    Downstream d{stream, *drain, log, req.version(), req.method() == http::verb::head, parser.keep_alive()};
    bool again = co_await handle(worker, chain, req, body, d);  // takes req's fields
    if (!chain.accessLogs.empty()) {
      log.bytesReceived = body.bytes();
      log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      for (const auto& l : chain.accessLogs) l->write(log);
    }
    if (!again) break;
  }
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace meshd::proxy
