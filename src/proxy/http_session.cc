// The HTTP/1.1 connection manager: read a request's head, hand it to the router (router.h) with its
// body as the body arrives, and write the response it relays or the local reply it gives; repeat
// while keep-alive holds.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>

#include <charconv>

#include "proxy/body_reader.h"
#include "proxy/downstream.h"
#include "proxy/http_write.h"
#include "proxy/router.h"
#include "proxy/sessions.h"
#include "proxy/worker.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Envoy's max_request_headers_kb and max_headers_count defaults: a bigger request head, or one with
// more fields, is answered 431.
constexpr uint32_t kMaxRequestHeaders = 60 * 1024;
constexpr size_t kMaxRequestHeadersCount = 100;

Response localResponse(const LocalReply& r, unsigned version) {
  Response res{static_cast<http::status>(r.status), version};
  if (r.overloaded) res.set("x-envoy-overloaded", "true");
  if (!r.body.empty()) {
    res.set("content-type", "text/plain");  // Envoy writes header names in lowercase
    res.body() = r.body;
  }
  return res;
}

// Framing headers as Envoy writes them (lowercase names): content-length, and connection: close
// when the connection ends after this response.
// Then the connection manager's date and server.
void frame(Response& res, bool keepAlive, bool head, const ServerHeader& server) {
  if (!head) res.erase(http::field::content_length);  // a HEAD reply keeps the length it announces
  res.erase(http::field::transfer_encoding);
  res.erase(http::field::connection);
  unsigned s = res.result_int();
  bool bodiless = s < 200 || s == 204 || s == 304;
  if (!bodiless && !head) res.set("content-length", std::to_string(res.body().size()));
  addConnectionManagerHeaders(server, [&res](std::string_view name, std::string_view value) { res.set(boost::beast::string_view(name.data(), name.size()), boost::beast::string_view(value.data(), value.size())); });
  if (!keepAlive) res.set("connection", "close");
}

// Framing headers of a relayed response head, as frame() does for local replies: content-length
// when the upstream said it, else chunked (or, to an HTTP/1.0 client, the connection's close).
// `res` is past eraseHopByHop(): transfer-encoding and connection are gone already.
Framing frameRelayed(ResponseHead& res, std::optional<uint64_t> length, bool& keepAlive, bool head) {
  unsigned s = res.status();
  bool bodiless = head || s < 200 || s == 204 || s == 304;
  Framing framing = Framing::kRaw;
  if (!bodiless && length) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, *length).ptr;
    res.add("content-length", std::string_view(digits, end - digits));
  } else if (!bodiless && res.version() == 11) {
    res.add("transfer-encoding", "chunked");
    framing = Framing::kChunked;
  } else if (!bodiless) {
    keepAlive = false;
  }
  if (!keepAlive) res.add("connection", "close");
  return framing;
}

// An HTTP/1.1 client's side of one request.
class Http1Downstream final : public Downstream {
 public:
  Http1Downstream(TimedStream& stream, ListenerDrain& drain, RequestLog& log, const ServerHeader& server, unsigned version,
                  bool head, bool keepAlive)
      : Downstream(log, server), stream_(stream), drain_(drain), version_(version), head_(head), keepAlive_(keepAlive) {}

  // Not when draining, and not when the client's body was not all read (as Envoy, which closes
  // rather than read what is left of it as a next request).
  Task<bool> sendReply(RequestBody& body, const LocalReply& r) override {
    beast::error_code ec;
    while (!body.done() && body.ready() && !ec) co_await body.next(ec);
    Response res = localResponse(r, version_);
    bool keepAlive = keepAlive_ && body.done() && !ec && !drain_.draining();
    frame(res, keepAlive, head_, server);
    stream_.expiresAfter(kIdleTimeout);
    std::string head;
    co_await writeMessage(stream_, res, head, ec);
    log.responseCode = res.result_int();
    log.bytesSent = res.body().size();
    co_return !ec && keepAlive;
  }

  Task<RelayResult> relay(UpstreamResponse& response, RequestBody& body, std::chrono::steady_clock::time_point deadline,
                          UpstreamPool& pool) override {
    ResponseHead& res = response.head();
    res.eraseHopByHop();
    res.version(version_);
    again_ = keepAlive_ && body.done() && !drain_.draining();
    // A HEAD reply keeps the length it announces; any other's is written again by the framing.
    addProxiedResponseHeaders(res, server, response.serviceTime, !head_);
    Framing framing = frameRelayed(res, response.length(), again_, head_);
    std::string head;
    head.reserve(512);
    res.serialize(head);
    co_return co_await relayResponse(stream_, response, head, framing, deadline, kIdleTimeout, pool);
  }

  bool again() const override { return again_; }

 private:
  TimedStream& stream_;
  ListenerDrain& drain_;
  unsigned version_;
  bool head_;       // a HEAD request
  bool keepAlive_;  // the client's wish
  bool again_ = false;
};

// `Expect: 100-continue`, as Envoy without proxy_100_continue (its default): the proxy itself tells
// the client to go on with its body, and the upstream never sees the expectation. False when the
// client went away.
Task<bool> continueIfExpected(TimedStream& stream, RequestHead& req) {
  auto expect = req.find("expect");
  if (req.version() != 11 || !expect || !head_parse::iequals(*expect, "100-continue")) co_return true;
  req.erase("expect");
  static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
  beast::error_code ec;
  stream.expiresAfter(kIdleTimeout);
  co_await boost::asio::async_write(stream, boost::asio::buffer(k100.data(), k100.size()), into(ec));
  co_return !ec;
}


// A request head's first read; more when it is bigger (the buffer grows to its 60 KiB limit).
constexpr size_t kHeadReadSize = 8 << 10;

// Looks at a client's connection while its request is under way, at its stream's probes (about
// once a second): a FIN or a reset there means the client went away, and its upstream work stops
// (Downstream::clientGone). Envoy closes a connection at its client's FIN, half-close included, at
// once; a probe costs no system call per request. A request not a whole probe period old is left
// alone, so that a client that half-closes with its request and is answered within the second gets
// its response (as from HAProxy or nginx): which requests are cut does not depend on where they
// fall between two probes.
struct ClientProbe {
  ClientProbe(Downstream& d, TimedStream& stream, HttpStats& stats, std::chrono::steady_clock::time_point started)
      : d(d), stream(stream), stats(stats), started(started) {
    stream.probeWith(&ClientProbe::run, this);
  }
  ~ClientProbe() { stream.probeWith(nullptr, nullptr); }
  ClientProbe(const ClientProbe&) = delete;
  ClientProbe& operator=(const ClientProbe&) = delete;

  Downstream& d;
  TimedStream& stream;
  HttpStats& stats;
  std::chrono::steady_clock::time_point started;

  static void run(void* context) {
    auto& p = *static_cast<ClientProbe*>(context);
    if (p.d.gone() || std::chrono::steady_clock::now() - p.started < TimedStream::kQuietProbe) return;
    pollfd fd{p.stream.socket().native_handle(), POLLRDHUP, 0};
    if (::poll(&fd, 1, 0) != 1 || !(fd.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
    p.stats.downstream_cx_destroy_remote_active_rq++;
    p.stats.downstream_rq_rx_reset++;  // as Envoy's, which resets the request's stream at the close
    p.d.clientGone();
  }
};

}  // namespace

Task<void> serveHttp(Worker& worker, Socket socket, FilterChainView chain, std::shared_ptr<ListenerDrain> drain,
                     boost::asio::ip::tcp::endpoint downstreamLocal, ListenerConnection tally) {
  chain.httpStats->downstream_cx_total++;
  std::shared_ptr<HttpStats> stats = chain.httpStats;  // outlives the chain's move to HTTP/2
  GaugeHold connected(stats->downstream_cx_active);
  const uint64_t connectionId = nextConnectionId();
  TimedStream stream(std::move(socket));
  stream.countBytes(stats, &stats->downstream_cx_rx_bytes_total, &stats->downstream_cx_tx_bytes_total);
  stream.cancelOnTimeout();  // a request body that stalls is answered 408 (then the connection closes)
  beast::flat_buffer buffer;
  beast::error_code ec;
  // HTTP/2 with prior knowledge: Envoy's AUTO codec knows it by the connection preface.
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  auto bytes = [&buffer] { return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()); };
  // A connection that never sends a byte closes at the idle timeout (Envoy has no codec for it yet).
  stream.expiresAfter(chain.connectionIdleTimeout);
  while (buffer.size() < kPreface.size() && kPreface.starts_with(bytes())) {
    size_t n = co_await stream.async_read_some(buffer.prepare(4096), into(ec));
    if (ec == beast::error::timeout && buffer.size() == 0) chain.httpStats->downstream_cx_idle_timeout++;
    if (ec) co_return;
    if (buffer.size() == 0) stream.expiresAfter(kIdleTimeout);
    buffer.commit(n);
  }
  if (bytes().starts_with(kPreface)) {
    stats->downstream_cx_http2_total++;
    GaugeHold http2(stats->downstream_cx_http2_active);
    co_await serveHttp2(worker, stream.release(), std::string(bytes()), std::move(chain), std::move(drain), downstreamLocal, connectionId);
    co_return;
  }
  stats->downstream_cx_http1_total++;
  GaugeHold http1(stats->downstream_cx_http1_active);
  RequestHead req;  // one per connection: its buffers are reused request after request
  std::optional<http::request_parser<http::buffer_body>> chunkParser;
  std::optional<BodyReader<true>> reader;
  bool served = false;    // a request came (Envoy's codec exists): the idle timeout drains the connection
  bool draining = false;  // it did: the connection closes at drain_timeout, a request meanwhile is its last
  for (;;) {
    // Draining: no request after the one in flight; a connection that has had none gets one, which
    // its response's `connection: close` ends (a listener draining gracefully still accepts).
    if (drain->draining() && served) break;
    // Until the next request's first byte the connection is idle; from there its stream is.
    using Duration = std::chrono::steady_clock::duration;
    bool noRequest = buffer.size() == 0;
    stream.expiresAfter(noRequest ? Duration(draining ? chain.drainTimeout : chain.connectionIdleTimeout)
                                  : Duration(kIdleTimeout));
    Http1HeadParse parsed;
    {
      ListenerDrain::Idle idle(*drain, stream);
      for (;;) {
        if (buffer.size() > 0) {  // a pipelined request may be here already
          parsed = Http1HeadParse::run(bytes(), req, kMaxRequestHeaders, kMaxRequestHeadersCount);
          if (parsed.kind != Http1HeadParse::kNeedMore) break;
        }
        size_t n = co_await stream.async_read_some(buffer.prepare(kHeadReadSize), into(ec));
        if (ec) break;
        if (buffer.size() == 0) stream.expiresAfter(kIdleTimeout);
        buffer.commit(n);
      }
    }
    if (ec == beast::error::timeout && noRequest && buffer.size() == 0 && !draining) {
      chain.httpStats->downstream_cx_idle_timeout++;
      if (served) {
        draining = true;
        ec = {};
        continue;
      }
    }
    if (ec) break;  // closed, reset or idle before a whole head
    if (parsed.kind == Http1HeadParse::kDone && parsed.framing == BodyFraming::kChunked) {
      // Beast takes the head again (it was checked already) and then decodes the chunks.
      chunkParser.emplace();
      chunkParser->body_limit(kNoBodyLimit);
      chunkParser->header_limit(kMaxRequestHeaders);
      std::string_view raw = req.raw();
      chunkParser->put(boost::asio::buffer(raw.data(), raw.size()), ec);
      if (ec || !chunkParser->is_header_done()) parsed.kind = Http1HeadParse::kInvalid;
      ec = {};
    }
    bool lowVersion = !parsed.failed() && req.version() == 10 && !chain.acceptHttp10;
    if (parsed.failed() || lowVersion) {
      // A request the codec cannot take: Envoy answers and closes (response flag DPE).
      Response res = localResponse(lowVersion                                 ? upgradeRequired()
                                   : parsed.kind == Http1HeadParse::kTooLarge ? requestHeadersTooLarge()
                                                                              : badRequest(),
                                   11);
      frame(res, false, false, chain.server);
      std::string head;
      co_await writeMessage(stream, res, head, ec);
      chain.httpStats->downstream_rq_total++;  // Envoy's codec made a stream for it
      chain.httpStats->downstream_rq_http1_total++;
      chain.httpStats->downstream_rq.charge(res.result_int());
      break;
    }
    buffer.consume(parsed.used);
    if (req.version() == 10 && req.host().empty() && !chain.defaultHostForHttp10.empty()) {
      req.set("host", chain.defaultHostForHttp10);
    }
    bool continued = co_await continueIfExpected(stream, req);  // not `if (!co_await`: GCC 12 miscompiles it
    if (!continued) break;
    if (parsed.framing == BodyFraming::kChunked) {
      reader.emplace(stream, buffer, *chunkParser, kIdleTimeout);
    } else {
      reader.emplace(stream, buffer, parsed.framing == BodyFraming::kLength ? parsed.length : 0, kIdleTimeout);
    }
    RequestBody body(*reader);
    chain.httpStats->downstream_rq_total++;
    chain.httpStats->downstream_rq_http1_total++;
    GaugeHold active(chain.httpStats->downstream_rq_active);
    stream.expiresNever();
    RequestLog log = requestLog(chain, req, req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1", stream.socket(), downstreamLocal,
                                connectionId);
    auto started = std::chrono::steady_clock::now();
    served = true;
    Http1Downstream d(stream, *drain, log, chain.server, req.version(), req.method() == "HEAD", parsed.keepAlive && !draining);
    ClientProbe probe{d, stream, *chain.httpStats, started};  // cleared however forward() ends
    bool again = co_await forward(worker, chain, req, body, d);  // edits req into the upstream request
    chain.httpStats->downstream_rq.charge(log.responseCode);
    chain.httpStats->downstream_rq_time.record(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
    if (!chain.accessLogs.empty()) {
      log.bytesReceived = body.bytes();
      log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      log.requestDuration = requestDuration(body, started);
      finishGrpcStatus(log);
      for (const auto& l : chain.accessLogs) l->write(log);
    }
    reader.reset();  // gives back what it held of the buffer: the next request follows it
    if (!again) break;
  }
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace meshd::proxy
