// Envoy's router filter: pick the route and its cluster, a host by the cluster's load balancer,
// forward the request with retries and timeouts, and hand the response (or the local reply that
// replaces it) to the downstream side, whatever protocol that speaks.
#include "proxy/router.h"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <charconv>
#include <iterator>

#include "proxy/h2/grpc.h"
#include "proxy/header_mutation.h"
#include "proxy/internal_request.h"
#include "proxy/load_balancer.h"
#include "proxy/original_dst.h"
#include "proxy/outlier_detector.h"
#include "proxy/retry_policy.h"
#include "proxy/route_match.h"
#include "proxy/sessions.h"
#include "proxy/worker.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// The HTTP status Envoy's outlier detection counts for an attempt: the response's, 503 for a
// connection that failed or was reset (LocalOriginConnectFailed), 504 for a timeout
// (LocalOriginTimeout); 0 for what did not try the host (an overflow, the client gone).
uint32_t outlierStatus(const UpstreamResult& r) {
  switch (r.kind) {
    case UpstreamResult::kOk: return r.status;
    case UpstreamResult::kTimeout: return 504;
    case UpstreamResult::kConnectFailure:
    case UpstreamResult::kConnectTimeout:
    case UpstreamResult::kReset:
    case UpstreamResult::kProtocolError: return 503;
    case UpstreamResult::kDownstreamReset:
    case UpstreamResult::kOverflow: return 0;
  }
  return 0;
}

constexpr auto kDefaultRouteTimeout = std::chrono::milliseconds(15000);
// Envoy's response code details when the client went away first.
constexpr const char* kDownstreamDisconnect = "downstream_remote_disconnect";

// Counts a request in flight at a host (least request balancing reads it), as long as it lives.
class InFlight {
 public:
  ~InFlight() { set(nullptr); }
  void set(const Host* h) {
    if (stats_) stats_->rq_active.fetch_sub(1, std::memory_order_relaxed);
    stats_ = h ? h->stats.get() : nullptr;
    if (stats_) stats_->rq_active.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  HostStats* stats_ = nullptr;
};

// What the router charges for an attempt's end: the response's code, or the one a failure is
// answered with (0: nothing, e.g. the connection manager's idle timeout, not the router's).
uint32_t chargedCode(const UpstreamResult& r) {
  if (r.idleTimeout) return 0;
  if (r.kind == UpstreamResult::kProtocolError) return 502;  // answered 502, as Envoy
  return r.kind == UpstreamResult::kOverflow ? 503 : outlierStatus(r);
}

// A request's code in its cluster's stats, as Envoy's code stats: upstream_rq_*, and again under
// internal. or external. by the request's kind.
void chargeCluster(ClusterStats& s, uint32_t code, bool internal) {
  s.upstream_rq.charge(code);
  (internal ? s.internal_upstream_rq : s.external_upstream_rq).charge(code);
}

// The grpc-status field of the response's trailers, if it has any.
std::optional<std::string_view> trailerGrpcStatus(const UpstreamResponse& r) {
  std::optional<std::string_view> v;
  if (const h2::Headers* t = r.trailers()) {
    for (const auto& [name, value] : *t) {
      if (name == "grpc-status") v = value;
    }
  }
  return v;
}

// The code outlier detection counts for an attempt, as Envoy's router: for a gRPC request whose
// response carries grpc-status in its head (trailers-only), that status's HTTP equivalent; a
// grpc-status in trailers is not counted (Envoy's neither).
uint32_t outlierCode(const UpstreamResult& r, const UpstreamResponse& response, bool grpcRequest) {
  if (grpcRequest && r.kind == UpstreamResult::kOk) {
    if (auto s = grpc::parseGrpcStatus(response.head().find("grpc-status"))) return grpc::grpcToHttpStatus(*s);
  }
  return outlierStatus(r);
}

// An attempt's end in its host's counters (/clusters): as Envoy, an attempt retried is an error.
// A gRPC request's non-5xx response is judged by its grpc-status once the response has ended
// (chargeGrpcHost): the result says whether that is still to come.
bool chargeHost(const Host& h, const UpstreamResult& r, bool retried, bool grpcRequest) {
  if (!h.stats) return false;
  if (r.kind == UpstreamResult::kTimeout && !r.idleTimeout) h.stats->rq_timeout++;
  uint32_t code = chargedCode(r);
  if (code == 0) return false;
  if (code < 500 && !retried && grpcRequest && r.kind == UpstreamResult::kOk) return true;
  (code >= 500 || retried ? h.stats->rq_error : h.stats->rq_success)++;
  return false;
}

// A gRPC response's verdict for its host once relayed, as Envoy's router: by the grpc-status of its
// trailers, or of its head when that was all of it (a non-5xx equivalent is a success); an error
// when its body ended without trailers or the upstream reset it; nothing when the client went
// away or a timeout cut it (those Envoy does not charge to the host).
void chargeGrpcHost(HostStats& h, const UpstreamResponse& response, RelayResult::Kind relayed) {
  std::optional<uint32_t> status;
  if (response.trailers()) {
    status = grpc::parseGrpcStatus(trailerGrpcStatus(response));
  } else if (response.trailersOnly()) {
    status = grpc::parseGrpcStatus(response.head().find("grpc-status"));
  } else if (relayed != RelayResult::kDone && relayed != RelayResult::kUpstreamReset) {
    return;
  }
  (status && grpc::grpcToHttpStatus(*status) < 500 ? h.rq_success : h.rq_error)++;
}

// A retry counted against its cluster's max_retries from when it is decided until its outcome is.
struct RetrySlot {
  std::atomic<uint64_t>* active = nullptr;
  ~RetrySlot() { release(); }
  void release() {
    if (active) --*active;
    active = nullptr;
  }
};

// The fields forward() looks for in one pass: x-request-id, x-forwarded-proto, a client's
// x-envoy-expected-rq-timeout-ms and x-envoy-internal (both dropped: the proxy writes its own),
// x-forwarded-for, then the x-envoy-* headers Envoy's connection manager strips from an external
// request: first those the router consumes from an internal one (kClientFields), the router's
// retry and timeout headers, then the rest.
constexpr std::string_view kSweptFields[] = {"x-request-id",
                                             "x-forwarded-proto",
                                             "x-envoy-expected-rq-timeout-ms",
                                             "x-envoy-internal",
                                             "x-forwarded-for",
                                             "x-envoy-retry-on",
                                             "x-envoy-retry-grpc-on",
                                             "x-envoy-max-retries",
                                             "x-envoy-upstream-rq-timeout-ms",
                                             "x-envoy-upstream-rq-per-try-timeout-ms",
                                             "x-envoy-retriable-status-codes",
                                             "x-envoy-retriable-header-names",
                                             "x-envoy-hedge-on-per-try-timeout",
                                             "x-envoy-upstream-rq-timeout-alt-response",
                                             "x-envoy-upstream-alt-stat-name",
                                             "x-envoy-force-trace",
                                             "x-envoy-ip-tags",
                                             "x-envoy-original-url"};
constexpr FieldNames kSwept{kSweptFields};
constexpr uint32_t kDropped = 4 | 8, kForwardedFor = 16;
constexpr size_t kFirstClientField = 5, kEndConsumed = 14;
constexpr uint32_t kClientFields = ~uint32_t{0} << kFirstClientField;

// A client's say in its retries and timeouts, from an internal request (internal_request.h): the
// router honours these headers and takes them off the request, as Envoy's does.
void applyClientFields(RequestHead& up, RetryPolicy& retry, RouteTimeouts& timeouts) {
  auto number = [&up](std::string_view name) -> std::optional<uint64_t> {
    auto v = up.find(name);
    uint64_t n = 0;
    if (!v) return std::nullopt;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;  // ignored, as Envoy
    return n;
  };
  std::string retryOn(up.find("x-envoy-retry-on").value_or(std::string_view()));
  std::string grpcRetryOn(up.find("x-envoy-retry-grpc-on").value_or(std::string_view()));
  std::optional<uint64_t> maxRetries = number("x-envoy-max-retries");
  std::optional<uint64_t> timeout = number("x-envoy-upstream-rq-timeout-ms");
  std::optional<uint64_t> perTry = number("x-envoy-upstream-rq-per-try-timeout-ms");
  timeouts.noContentOnTimeout = up.find("x-envoy-upstream-rq-timeout-alt-response").has_value();  // any value
  for (size_t i = kFirstClientField; i < kEndConsumed; ++i) up.erase(kSweptFields[i]);
  std::optional<uint32_t> max;
  if (maxRetries) max = static_cast<uint32_t>(std::min<uint64_t>(*maxRetries, UINT32_MAX));
  retry.merge(retryOn, grpcRetryOn, max);
  if (timeout) timeouts.route = std::chrono::milliseconds(*timeout);  // 0: none
  if (perTry) timeouts.perTry = std::chrono::milliseconds(*perTry);
}

// A version 4 UUID from 128 random bits, as Envoy's x-request-id: 8-4-4-4-12 lowercase hex digits.
void uuid4(uint64_t hi, uint64_t lo, char (&out)[36]) {
  hi = (hi & ~0xf000ull) | 0x4000ull;                        // version 4
  lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = 0;
  for (int i = 0; i < 32; ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) out[at++] = '-';
    uint64_t word = i < 16 ? hi : lo;
    out[at++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xf];
  }
}

int64_t msSince(RouteTimeouts::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(RouteTimeouts::Clock::now() - t).count();
}

// x-envoy-expected-rq-timeout-ms, as Envoy's router writes it for an attempt `elapsed` ms after the
// request's end: the per-try timeout, else the route's, but no more than what is left of the
// route's (at least 1); none when neither is set. Added for the first attempt (forward() erased
// any the client sent), set again for a retry.
void setExpectedTimeout(RequestHead& up, const RouteTimeouts& t, int64_t elapsed, bool retry) {
  int64_t global = t.route.count();
  int64_t expected = t.perTry.count() > 0 ? t.perTry.count() : global;
  if (expected <= 0) return;
  if (global > 0) expected = elapsed >= global ? 1 : std::min(expected, global - elapsed);
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, expected).ptr;
  std::string_view value(digits, end - digits);
  retry ? up.set("x-envoy-expected-rq-timeout-ms", value) : up.add("x-envoy-expected-rq-timeout-ms", value);
}

// The attempt as the retry policy sees it.
AttemptOutcome outcomeOf(const UpstreamResult& r, UpstreamResponse& response) {
  AttemptOutcome o;
  switch (r.kind) {
    case UpstreamResult::kOk: {
      o.kind = AttemptOutcome::kResponse;
      o.status = r.status;
      o.overloaded = response.head().find("x-envoy-overloaded") || response.head().find("x-envoy-ratelimited");
      if (auto v = response.head().find("grpc-status")) {
        uint32_t code = 0;
        if (std::from_chars(v->data(), v->data() + v->size(), code).ec == std::errc()) o.grpcStatus = code;
      }
      break;
    }
    case UpstreamResult::kConnectFailure:
    case UpstreamResult::kConnectTimeout: o.kind = AttemptOutcome::kConnectFailure; break;
    case UpstreamResult::kReset:
    case UpstreamResult::kProtocolError:
      o.kind = AttemptOutcome::kReset;
      o.refusedStream = r.refusedStream;
      break;
    case UpstreamResult::kTimeout:
      o.kind = r.perTryTimeout ? AttemptOutcome::kPerTryTimeout : AttemptOutcome::kTimeout;
      break;
    case UpstreamResult::kDownstreamReset: o.kind = AttemptOutcome::kDownstreamReset; break;
    case UpstreamResult::kOverflow: o.kind = AttemptOutcome::kOverflow; break;
  }
  return o;
}

// The grpc-status of the response's trailers, else of its head (a trailers-only response), for
// the access log: nothing when absent or not a number.
std::optional<uint32_t> grpcStatusOf(const UpstreamResponse& r) {
  std::optional<std::string_view> v = trailerGrpcStatus(r);
  if (!v) v = r.head().find("grpc-status");
  uint32_t code = 0;
  if (!v) return std::nullopt;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), code);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return code;
}

}  // namespace

void finishGrpcStatus(RequestLog& log) {
  if (log.grpc && !log.grpcStatus && log.responseCode) {
    log.grpcStatus = static_cast<uint32_t>(grpc::httpToGrpcStatus(log.responseCode));
  }
}

// The request's fields an access log may name, as they are now. Envoy's router edits the request
// headers in place, so a log shows the request as it went upstream (rewritten path and Host, the
// added x-request-id and x-envoy-original-path) and a local reply's log shows it as it came.
void logRequestHead(RequestLog& log, const FilterChainView& chain, const RequestHead& req) {
  auto field = [&req](std::string_view name) { return std::string(req.find(name).value_or(std::string_view())); };
  log.method = std::string(req.method());
  log.path = std::string(req.target());
  log.authority = std::string(req.host());
  log.userAgent = field("user-agent");
  log.forwardedFor = field("x-forwarded-for");
  log.requestId = field("x-request-id");
  log.requestFields.clear();
  for (const std::string& name : chain.loggedRequestFields) {  // empty unless a log names others
    if (auto v = req.find(name)) log.requestFields.emplace_back(name, std::string(*v));
  }
}

RequestLog requestLog(const FilterChainView& chain, const RequestHead& req, std::string_view protocol,
                      Socket& socket, const boost::asio::ip::tcp::endpoint& downstreamLocal, uint64_t connectionId) {
  RequestLog log;
  log.downstreamLocal = downstreamLocal;
  log.start = std::chrono::system_clock::now();
  if (chain.accessLogs.empty()) return log;
  log.connectionId = connectionId;
  log.startedAt = std::chrono::steady_clock::now();
  log.filterChainName = chain.name;
  log.grpc = grpc::isGrpcContentType(req.find("content-type").value_or(std::string_view()));
  log.protocol = std::string(protocol);
  logRequestHead(log, chain, req);
  boost::system::error_code ignored;
  auto remote = socket.remote_endpoint(ignored);
  if (!ignored) log.downstreamRemote = endpointText(remote);
  return log;
}

Task<bool> forward(Worker& worker, const FilterChainView& chain, RequestHead& req, RequestBody& body, Downstream& d) {
  ConfigPtr config = worker.config();  // this request's snapshot, whatever arrives meanwhile
  RequestLog& log = d.log;
  // As Envoy's connection manager (generate_request_id, and no TLS downstream): a request without
  // an x-request-id gets one, and one without x-forwarded-proto says http.
  // One pass over the fields finds those two, drops what the proxy writes itself, and tells
  // whether the request is internal and brought x-envoy-* headers.
  uint32_t present = req.sweep(kSwept, kDropped);
  bool internal = (present & kForwardedFor) && isInternalRequest(req.find("x-forwarded-for"));
  if (internal) {
    req.add("x-envoy-internal", "true");
  } else if (present & kClientFields) {  // external: stripped before routing, as Envoy
    for (size_t i = kFirstClientField; i < std::size(kSweptFields); ++i) req.erase(kSweptFields[i]);
  }
  if (!(present & 1)) {
    char id[36];
    uuid4(worker.random(), worker.random(), id);
    req.add("x-request-id", std::string_view(id, sizeof id));
  }
  if (!(present & 2)) req.add("x-forwarded-proto", "http");
  if (!chain.accessLogs.empty()) logRequestHead(log, chain, req);  // as the router will see it
  // As Envoy's connection manager without upgrade_configs (meshd writes none): an HTTP/1.1 client
  // asking to upgrade its connection (WebSocket, ...) is refused 403. An h2c upgrade is not one:
  // Envoy's HTTP/1 codec drops it and the request goes on as HTTP/1.1.
  if (std::string_view to = req.upgrade(); !to.empty()) {
    if (!head_parse::iequals(to, "h2c")) {
      chain.httpStats->downstream_rq_ws_on_non_ws_route++;
      co_return co_await d.reply(body, upgradeFailed());
    }
    req.erase("http2-settings");  // upgrade and connection go with the other hop-by-hop fields
  }
  auto rc = config->routes.find(chain.routeConfigName);
  if (rc == config->routes.end()) {
    log.addFlag("NR");
    co_return co_await d.reply(body, noRoute());
  }
  // Views into req's bytes: valid until req is edited into the upstream request below.
  std::string_view host = req.host();
  RequestView view{req.method(), req.target(), host,
                   [&req](std::string_view name) { return req.find(name); }};
  const auto* vh = selectVirtualHost(*rc->second, host);
  const auto* route = vh ? matchRoute(*vh, view) : nullptr;
  if (!route || !route->has_route()) {
    chain.httpStats->no_route++;
    log.addFlag("NR");
    co_return co_await d.reply(body, noRoute());
  }
  const auto& action = route->route();
  auto cluster = config->clusters.find(pickCluster(action, worker.random()));
  bool logging = !chain.accessLogs.empty();  // the log's strings are built only for an access log
  if (logging) log.routeName = route->name();
  if (logging && cluster != config->clusters.end()) log.upstreamCluster = cluster->first;
  if (cluster == config->clusters.end()) {
    log.addFlag("NC");
    co_return co_await d.reply(body, clusterNotFound());
  }
  const ClusterView& c = *cluster->second;
  // Circuit breaking: the in-flight count is shared by every worker (an atomic, no lock).
  uint64_t active = ++c.stats->upstream_rq_active;
  struct Release {
    std::atomic<uint64_t>& n;
    ~Release() { --n; }
  } release{c.stats->upstream_rq_active};
  if (active > c.breakers.maxRequests) {
    c.stats->upstream_rq_pending_overflow++;
    chargeCluster(*c.stats, 503, internal);
    log.addFlag("UO");
    co_return co_await d.reply(body, upstreamReset(kOverflow, "", false));
  }

  // The upstream request head is the downstream one, edited in place. The body keeps its framing:
  // chunked stays chunked, a length stays a length.
  std::string target = rewriteTarget(*route, req.target());
  RequestHead& up = req;
  up.eraseHopByHop();
  up.version(11);
  if (rewritesPath(*route)) {
    // As Envoy's router: a route with a rewrite tells the upstream the original path, even when
    // the rewrite leaves it as it was (prefix "/" rewritten to "/", App Mesh's default).
    std::string original(up.target());  // a copy: adding a field may move the head's bytes
    up.set("x-envoy-original-path", original);
    up.target(target);
  }
  mutateRequestHeaders(up, *route, *vh, *rc->second);  // before the host rewrite, as Envoy
  if (!action.host_rewrite_literal().empty()) up.set("host", action.host_rewrite_literal());
  if (body.framing() == Framing::kChunked) up.add("transfer-encoding", "chunked");
  if (!chain.accessLogs.empty()) logRequestHead(log, chain, up);

  RetryPolicy retry(action);
  RouteTimeouts timeouts;
  timeouts.route = action.has_timeout() ? toMillis(action.timeout()) : kDefaultRouteTimeout;
  timeouts.perTry = retry.perTry;
  if (internal && (present & kClientFields)) applyClientFields(up, retry, timeouts);
  if (action.has_idle_timeout()) {
    timeouts.idle = toMillis(action.idle_timeout());
    body.idleTimeout(timeouts.idle);  // the client's silence while its body comes counts too
  }
  // As Envoy's router (no suppress_envoy_headers): the upstream learns how long it has.
  setExpectedTimeout(up, timeouts, 0, false);
  UpstreamResponse response;
  InFlight inFlight;
  RetrySlot retrySlot;
  UpstreamResult result;
  Host originalDst;  // an ORIGINAL_DST cluster's host: where the downstream connection was headed
  HostStats* lastHost = nullptr;  // the last attempt's host's counters
  bool grpcHostPending = false;    // its rq_success or rq_error waits for the gRPC response's end
  std::optional<bool> grpcRequest;  // a gRPC request (content-type), looked up at the first answer
  d.watch(&response);  // a client that goes aborts what the upstream does for it
  struct Unwatch {
    Downstream& d;
    ~Unwatch() { d.watch(nullptr); }
  } unwatch{d};
  for (uint32_t attempt = 0;; ++attempt) {
    const Host* h = c.originalDst ? useOriginalDst(c, log.downstreamLocal, originalDst)
                                  : selectHost(c, worker.roundRobin(c.name), worker.random());
    if (!h) {
      c.stats->upstream_cx_none_healthy++;
      chargeCluster(*c.stats, 503, internal);  // as Envoy's sendNoHealthyUpstreamResponse
      log.addFlag("UH");
      co_return co_await d.reply(body, noHealthyUpstream());
    }
    inFlight.set(h);
    if (logging) log.upstreamHost = endpointText(h->endpoint);
    log.attempts = attempt + 1;
    if (logging) log.upstreamProtocol = c.http2 ? "HTTP/2" : "HTTP/1.1";
    if (!d.gone()) result = co_await exchange(*h, c, up, body, timeouts, worker.pool(), worker.h2Pool(), response);
    if (d.gone()) result.kind = UpstreamResult::kDownstreamReset;  // whatever the abort made the attempt end with
    if (result.kind == UpstreamResult::kTimeout && result.perTryTimeout && !result.idleTimeout) {
      c.stats->upstream_rq_per_try_timeout++;  // Envoy's onPerTryTimeout, whether retried or not
    }
    if (logging) {
      boost::asio::ip::tcp::endpoint local = response.localEndpoint();
      if (local.port() != 0) log.upstreamLocal = endpointText(local);
      log.transportFailure = result.transportFailure;
      log.requestTxDuration.reset();  // the last attempt's, as Envoy's upstream timing
      if (response.requestSent.time_since_epoch().count() != 0) {
        log.requestTxDuration = std::chrono::duration_cast<std::chrono::milliseconds>(response.requestSent - log.startedAt);
      }
    }
    if (result.kind == UpstreamResult::kDownstreamReset) {
      log.addFlag("DC");
      log.details = kDownstreamDisconnect;
      co_return false;
    }
    if (result.kind == UpstreamResult::kTimeout && result.idleTimeout && !body.done()) {
      // The client went quiet in the middle of its body: not the upstream's doing, nothing to retry.
      chain.httpStats->downstream_rq_idle_timeout++;
      log.addFlag("SI");
      co_return co_await d.reply(body, streamTimeout(false));
    }
    if (!grpcRequest) grpcRequest = grpc::isGrpcContentType(up.find("content-type").value_or(std::string_view()));
    if (uint32_t reached = countForOutlierDetection(c, *h, outlierCode(result, response, *grpcRequest))) {
      worker.reportOutlier(c.name, h->key(), reached);
    }
    // Envoy retries only while it still holds the whole body it sent.
    bool retriable = body.replayable() && retry.retriable(outcomeOf(result, response));
    retrySlot.release();  // the last retry is over: its outcome is known (Envoy's resetRetry)
    bool overflow = false;
    if (attempt < retry.numRetries && !timeouts.expired() && retriable) {
      // The cluster's max_retries circuit breaker: retries under way in every worker.
      if (++c.stats->upstream_rq_retry_active > c.breakers.maxRetries) {
        --c.stats->upstream_rq_retry_active;
        c.stats->upstream_rq_retry_overflow++;
        overflow = true;
      }
    }
    bool retrying = attempt < retry.numRetries && !timeouts.expired() && retriable && !overflow;
    grpcHostPending = chargeHost(*h, result, retrying, *grpcRequest);
    lastHost = h->stats.get();
    if (retrying) {
      retrySlot.active = &c.stats->upstream_rq_retry_active;
      c.stats->upstream_rq_retry++;
      if (result.kind == UpstreamResult::kOk) c.stats->retry_upstream_rq.charge(result.status);
      // Envoy's back-off, within what is left of the route's timeout.
      auto wait = retry.backOff(attempt + 1, worker.random());
      if (timeouts.deadline) {
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(*timeouts.deadline - RouteTimeouts::Clock::now()));
      }
      if (wait.count() > 0) {
        Timer backOff(co_await boost::asio::this_coro::executor, wait);
        beast::error_code ignored;
        co_await backOff.async_wait(into(ignored));
      }
      if (d.gone()) {  // the client went during the back-off: no attempt for it
        log.addFlag("DC");
        log.details = kDownstreamDisconnect;
        co_return false;
      }
      if (timeouts.deadline) setExpectedTimeout(up, timeouts, msSince(timeouts.started), true);
      continue;
    }
    bool retried = attempt > 0;
    // URX, as Envoy's retry state: this attempt would have been retried, but none were left (a
    // response too, and with num_retries 0).
    bool exhausted = retriable && attempt >= retry.numRetries;
    if (exhausted) c.stats->upstream_rq_retry_limit_exceeded++;
    if (retried && !retriable) c.stats->upstream_rq_retry_success++;
    // Envoy's order: the failure's own flag, then UO for a retry the breaker refused, URX.
    auto flag = [&](const char* f) {
      log.addFlag(f);
      if (overflow) log.addFlag("UO");
      if (exhausted) log.addFlag("URX");
    };
    // As Envoy's router: the final attempt's code, the one answered for a timeout.
    bool noContent = result.kind == UpstreamResult::kTimeout && !result.idleTimeout && timeouts.noContentOnTimeout;
    chargeCluster(*c.stats, noContent ? 204 : chargedCode(result), internal);
    switch (result.kind) {
      case UpstreamResult::kOk:
        if (overflow) log.addFlag("UO");
        if (exhausted) log.addFlag("URX");
        break;
      case UpstreamResult::kTimeout:
        if (result.idleTimeout) {  // the HTTP connection manager's stream idle timeout, not the router's
          chain.httpStats->downstream_rq_idle_timeout++;
          log.addFlag("SI");
          co_return co_await d.reply(body, streamTimeout(body.done()));
        }
        if (!result.perTryTimeout) c.stats->upstream_rq_timeout++;  // a try's counted as it ended
        flag("UT");  // URX only after a per-try timeout: the route's is never retried
        co_return co_await d.reply(body, upstreamTimeout(result.perTryTimeout, timeouts.noContentOnTimeout));
      case UpstreamResult::kConnectFailure:
        flag("UF");
        co_return co_await d.reply(body, upstreamReset(kRemoteConnectionFailure, result.transportFailure, retried));
      case UpstreamResult::kConnectTimeout:
        flag("UF");
        co_return co_await d.reply(body, upstreamReset(kConnectionTimeout, "", retried));
      case UpstreamResult::kOverflow:  // as the in-flight overflow above: no URX, nothing retried
        log.addFlag("UO");
        co_return co_await d.reply(body, upstreamReset(kOverflow, "", false));
      case UpstreamResult::kProtocolError:
        flag("UPE");
        co_return co_await d.reply(body, upstreamReset(kProtocolError, "", retried));
      case UpstreamResult::kReset:
      case UpstreamResult::kDownstreamReset:
        flag("UC");
        co_return co_await d.reply(
            body, upstreamReset(result.resetReason.empty() ? kConnectionTermination : result.resetReason, "", retried));
    }
    break;
  }

  // The response: its head now, its body as it arrives. From here only the route's deadline bounds
  // the upstream (as Envoy, a per-try timeout no longer applies once the response has started).
  if (timeouts.deadline) response.serviceTime = msSince(timeouts.started);
  if (logging) {
    log.responseDuration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - log.start);
  }
  for (const std::string& name : chain.loggedResponseFields) {  // empty unless a log names some
    if (name == "x-envoy-upstream-service-time" && response.serviceTime) {  // written on the way out
      log.responseFields.emplace_back(name, std::to_string(*response.serviceTime));
    } else if (auto v = response.head().find(name)) {
      log.responseFields.emplace_back(name, std::string(*v));
    }
  }
  response.idle = timeouts.idle;
  log.details = "via_upstream";
  RelayResult relayed = co_await d.relay(response, body, *timeouts.deadline, worker.pool());
  if (d.gone()) relayed.kind = RelayResult::kDownstreamReset;
  if (grpcHostPending && lastHost) chargeGrpcHost(*lastHost, response, relayed.kind);
  log.responseCode = result.status;
  log.bytesSent = relayed.bodyBytes;
  if (log.grpc) log.grpcStatus = grpcStatusOf(response);
  if (const h2::Headers* trailers = response.trailers()) {
    for (const std::string& name : chain.loggedTrailerFields) {  // empty unless a log names some
      for (const auto& [n, v] : *trailers) {
        if (n == name) log.trailerFields.emplace_back(n, v);
      }
    }
  }
  switch (relayed.kind) {
    case RelayResult::kDone:
      if (timeouts.deadline) c.stats->upstream_rq_time.record(std::chrono::milliseconds(msSince(timeouts.started)));
      co_return d.again();
    case RelayResult::kUpstreamTimeout:  // too late for a 504: the stream is reset
      if (timeouts.idle.count() > 0 && !timeouts.expired()) {  // the route's idle_timeout, not its timeout
        chain.httpStats->downstream_rq_idle_timeout++;
        log.addFlag("SI");
        log.details = "stream_idle_timeout";
        co_return false;
      }
      c.stats->upstream_rq_timeout++;
      if (lastHost) lastHost->rq_timeout++;
      log.addFlag("UT");
      log.details = "response_timeout";
      co_return false;
    case RelayResult::kUpstreamReset:
      log.addFlag("UC");
      log.details = resetDetails(kConnectionTermination, "", true);
      co_return false;
    case RelayResult::kDownstreamReset:
      log.addFlag("DC");
      log.details = kDownstreamDisconnect;
      co_return false;
  }
  co_return false;
}

}  // namespace meshd::proxy
