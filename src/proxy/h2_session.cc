// The HTTP/2 connection manager (h2c by prior knowledge): one reader feeding the codec, one writer
// flushing what the codec frames, and a coroutine per request stream that goes through the same
// router as HTTP/1.1 (router.h) with an HTTP/2 Downstream. As Envoy's AUTO codec, a connection is
// HTTP/2 when it opens with the HTTP/2 connection preface (serveHttp tells).
#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <unordered_map>

#include "proxy/downstream.h"
#include "proxy/h2/codec.h"
#include "proxy/h2/grpc.h"
#include "proxy/router.h"
#include "proxy/sessions.h"
#include "proxy/signal.h"
#include "proxy/worker.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadSize = 64 << 10;

// One request stream as the connection's reader fills it in.
struct H2Stream {
  explicit H2Stream(const Executor& ex, h2::StreamId id) : id(id), arrived(ex), drained(ex) {}
  h2::StreamId id;
  h2::Headers head;
  std::string body;     // received, not handed to the router yet
  bool ended = false;   // the client's side is complete
  bool reset = false;   // the stream (or the connection) is gone
  Signal arrived;       // body, end or reset
  Signal drained;       // what we submitted was framed (onSendDrained), or reset
  Downstream* downstream = nullptr;  // while the router works on the request: told when the client goes
};

class H2Connection : public h2::Callbacks, public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(Worker& worker, Socket socket, FilterChainView chain, std::shared_ptr<ListenerDrain> drain,
               boost::asio::ip::tcp::endpoint local, uint64_t connectionId)
      : worker_(worker),
        stream_(std::move(socket)),
        chain_(std::move(chain)),
        drain_(std::move(drain)),
        local_(local),
        connectionId_(connectionId),
        codec_(*this),
        writable_(stream_.get_executor()) {
    stream_.cancelOnTimeout();  // an idle timeout still has GOAWAYs to send
    if (const auto& stats = chain_.httpStats) {
      stream_.countBytes(stats, &stats->downstream_cx_rx_bytes_total, &stats->downstream_cx_tx_bytes_total);
    }
  }

  Task<void> run(std::string preread);

  h2::ServerCodec& codec() { return codec_; }
  void flush() { writable_.notify(); }
  // Resets a stream toward the client; it counts in downstream_rq_rx_reset, as Envoy's
  // onResetStream counts every reset, sent or received.
  void resetStream(h2::StreamId id, h2::ErrorCode code) {
    codec_.resetStream(id, code);
    chain_.httpStats->downstream_rq_rx_reset++;
  }
  // A stream coroutine finished with its stream.
  void done(h2::StreamId id);

  // h2::Callbacks
  void onHeaders(h2::StreamId id, h2::Headers headers, bool endStream) override;
  void onData(h2::StreamId id, std::string_view data) override;
  void onTrailers(h2::StreamId id, h2::Headers) override { onEndStream(id); }  // HTTP/1 upstreams take none
  void onEndStream(h2::StreamId id) override;
  void onReset(h2::StreamId id, h2::ErrorCode) override;
  void onGoAway(h2::StreamId, h2::ErrorCode, std::string_view) override {}
  void onSendDrained(h2::StreamId id) override;
  void onClose(h2::StreamId id) override;  // both sides complete: a writer waiting for drained is done too

 private:
  Task<void> writeLoop(std::shared_ptr<H2Connection> self);
  Task<void> serveStream(std::shared_ptr<H2Connection> self, std::shared_ptr<H2Stream> s);
  // When a connection without streams stops waiting: its idle timeout, or its drain's end.
  Clock::time_point idleDeadline() const {
    return drainEnds_ ? *drainEnds_ : Clock::now() + chain_.connectionIdleTimeout;
  }
  H2Stream* find(h2::StreamId id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  Worker& worker_;
  TimedStream stream_;
  FilterChainView chain_;
  std::shared_ptr<ListenerDrain> drain_;
  boost::asio::ip::tcp::endpoint local_;
  uint64_t connectionId_;
  h2::ServerCodec codec_;
  Signal writable_;
  bool closed_ = false;  // the reader stopped: no more input, streams failed
  bool writerDone_ = false;
  std::optional<Clock::time_point> drainEnds_;  // the idle timeout fired: drain_timeout runs
  bool closing_ = false;                        // ... and ran out: the final GOAWAY, then close
  std::unordered_map<h2::StreamId, std::shared_ptr<H2Stream>> streams_;
};

// The request's body as the router reads it: DATA frames as they arrived, handed out whole.
class H2Body final : public BodySource {
 public:
  H2Body(H2Connection& c, H2Stream& s, bool chunked) : c_(c), s_(s), chunked_(chunked) {}
  bool done() const override { return s_.ended && s_.body.empty(); }
  bool ready() const override { return done() || !s_.body.empty(); }
  bool chunked() const override { return chunked_; }
  uint64_t bytes() const override { return bytes_; }
  void idleTimeout(std::chrono::milliseconds d) override { idle_ = d; }
  Task<std::string_view> next(beast::error_code& ec) override {
    ec = {};
    while (s_.body.empty() && !s_.ended && !s_.reset) {
      bool woken = co_await s_.arrived.wait(Clock::now() + idle_);  // not `if (!co_await`: GCC 12 miscompiles it
      if (!woken) break;
    }
    if (s_.reset || (s_.body.empty() && !s_.ended)) {
      ec = s_.reset ? beast::error_code(http::error::partial_message) : beast::error_code(beast::error::timeout);
      co_return std::string_view();
    }
    piece_.swap(s_.body);
    s_.body.clear();
    bytes_ += piece_.size();
    c_.codec().consume(s_.id, piece_.size());  // the client may send as much again
    c_.flush();                                // WINDOW_UPDATE
    co_return std::string_view(piece_);
  }

 private:
  H2Connection& c_;
  H2Stream& s_;
  bool chunked_;
  Clock::duration idle_ = kIdleTimeout;
  uint64_t bytes_ = 0;
  std::string piece_;
};

// Appends (name, value) to `h`.
auto append(h2::Headers& h) {
  return [&h](std::string_view name, std::string_view value) { h.emplace_back(std::string(name), std::string(value)); };
}

// An HTTP/2 client's side of one request: the response goes into the stream's frames.
class H2Downstream final : public Downstream {
 public:
  H2Downstream(H2Connection& c, H2Stream& s, RequestLog& log, const ServerHeader& server, bool head, bool grpc)
      : Downstream(log, server), c_(c), s_(s), head_(head), grpc_(grpc) {}

  // A gRPC client gets Envoy's trailers-only reply (grpc-status from the HTTP status).
  Task<bool> sendReply(RequestBody&, const LocalReply& r) override {
    log.responseCode = r.status;
    if (grpc_) {
      h2::Headers h = grpc::trailersOnlyReply(r.status, r.body);
      if (r.overloaded) h.insert(h.begin() + 1, {"x-envoy-overloaded", "true"});
      addConnectionManagerHeaders(server, append(h));
      c_.codec().submitResponse(s_.id, h, true);
    } else {
      h2::Headers h{{":status", std::to_string(r.status)}};
      if (r.overloaded) h.emplace_back("x-envoy-overloaded", "true");
      if (!r.body.empty()) {
        h.emplace_back("content-length", std::to_string(r.body.size()));
        h.emplace_back("content-type", "text/plain");
      }
      addConnectionManagerHeaders(server, append(h));
      bool bodiless = r.body.empty() || head_;
      c_.codec().submitResponse(s_.id, h, bodiless);
      if (!bodiless) c_.codec().submitData(s_.id, r.body, true);
      log.bytesSent = bodiless ? 0 : r.body.size();
    }
    c_.flush();
    co_return true;
  }

  Task<RelayResult> relay(UpstreamResponse& up, RequestBody&, Clock::time_point deadline, UpstreamPool& pool) override {
    RelayResult result;
    ResponseHead& res = up.head();
    res.eraseHopByHop();
    addProxiedResponseHeaders(res, server, up.serviceTime, false);
    h2::Headers h{{":status", std::to_string(res.status())}};
    res.forEach([&h](const ResponseHead::Field& f) { h.emplace_back(std::string(f.name), std::string(f.value)); });
    {
      BodySource& reader = up.body(deadline);
      bool bodiless = head_ || (reader.done() && !up.trailers());
      if (!c_.codec().submitResponse(s_.id, h, bodiless)) result.kind = RelayResult::kDownstreamReset;
      c_.flush();
      bool ended = bodiless;  // END_STREAM went out
      beast::error_code ec;
      while (!ended && result.kind == RelayResult::kDone) {
        if (reader.done()) {  // no (more) body, trailers still to go: HEADERS, then trailers, as gRPC's empty streams
          const h2::Headers* trailers = up.trailers();
          if (!(trailers ? c_.codec().submitTrailers(s_.id, *trailers) : c_.codec().submitData(s_.id, {}, true))) {
            result.kind = RelayResult::kDownstreamReset;
          }
          c_.flush();
          break;
        }
        std::string_view piece = co_await reader.next(ec);
        if (gone()) {  // the upstream was aborted for it: nothing to tell the client
          result.kind = RelayResult::kDownstreamReset;
          break;
        }
        if (ec) {
          result.kind = ec == beast::error::timeout ? RelayResult::kUpstreamTimeout : RelayResult::kUpstreamReset;
          c_.resetStream(s_.id, h2::ErrorCode::kInternalError);  // as Envoy: the client sees a reset
          c_.flush();
          break;
        }
        // An HTTP/2 upstream's trailers (gRPC's status) end the stream after the body.
        const h2::Headers* trailers = reader.done() ? up.trailers() : nullptr;
        if (!c_.codec().submitData(s_.id, piece, reader.done() && !trailers) ||
            (trailers && !c_.codec().submitTrailers(s_.id, *trailers))) {
          result.kind = RelayResult::kDownstreamReset;
          break;
        }
        result.bodyBytes += piece.size();
        c_.flush();
        ended = reader.done();
        if (ended) break;  // the codec holds the last piece: nothing more to pace
        // One piece at a time: the next read waits until the client's windows took this one.
        while (!s_.reset && c_.codec().queuedBytes(s_.id) > 0) {
          bool woken = co_await s_.drained.wait(Clock::now() + kIdleTimeout);
          if (!woken) break;
        }
        if (s_.reset || c_.codec().queuedBytes(s_.id) > 0) result.kind = RelayResult::kDownstreamReset;
      }
    }
    up.release(result.kind == RelayResult::kDone && !head_, pool);
    co_return result;
  }

  bool again() const override { return true; }  // the connection goes on whatever this stream did

 private:
  H2Connection& c_;
  H2Stream& s_;
  bool head_;
  bool grpc_;
};

// The router's view of an HTTP/2 request head: :method, :path and :authority as an HTTP/1.1
// request line and Host field.
void requestHead(const h2::Headers& h, RequestHead& req, bool& hasLength) {
  bool authority = false;
  for (const auto& [name, value] : h) {
    if (name == ":authority") authority = true;
  }
  for (const auto& [name, value] : h) {
    if (name == ":method") {
      req.method(value);
    } else if (name == ":path") {
      req.target(value);
    } else if (name == ":authority") {
      req.add("host", value);
    } else if (name[0] != ':') {
      if (name == "content-length") hasLength = true;
      if (name == "host" && authority) continue;  // :authority wins
      req.add(name, value);
    }
  }
}

Task<void> H2Connection::run(std::string preread) {
  auto self = shared_from_this();
  // A client that closes right after its last frames resets its streams at once: every read is
  // attempted (read_readiness.h), the end of the stream included.
  stream_.readUntilClosed();
  boost::asio::co_spawn(stream_.get_executor(), writeLoop(self), boost::asio::detached);
  beast::error_code ec;
  Status fed = codec_.feed(preread);
  std::string buf(kReadSize, '\0');
  while (fed.ok() && !codec_.done()) {
    flush();
    if (drain_->draining() || closing_) {
      codec_.goAway();
      flush();
      if (streams_.empty()) break;
    }
    // Envoy's connection idle timeout (the connection manager's common_http_protocol_options) counts
    // only while no stream is open. When it fires the connection drains: a GOAWAY notice (new
    // streams are still taken), then after drain_timeout the final GOAWAY, and it closes.
    bool noStream = streams_.empty();
    if (noStream) {
      stream_.expiresAt(idleDeadline());
    } else {
      stream_.expiresNever();
    }
    size_t n;
    {
      std::optional<ListenerDrain::Idle> idle;
      if (noStream) idle.emplace(*drain_, stream_);
      n = co_await stream_.async_read_some(boost::asio::buffer(buf), into(ec));
    }
    if (ec == beast::error::timeout && streams_.empty()) {  // idle since the read began, or since done()
      ec = {};
      if (drainEnds_) {
        closing_ = true;  // the loop's top sends the final GOAWAY
      } else {
        chain_.httpStats->downstream_cx_idle_timeout++;
        drainEnds_ = Clock::now() + chain_.drainTimeout;
        codec_.shutdownNotice();
      }
      continue;
    }
    if (ec) break;
    fed = codec_.feed(std::string_view(buf.data(), n));
  }
  closed_ = true;
  // As Envoy, a connection that ends (the client's FIN or reset, a protocol error) resets its
  // streams: the upstream work for them stops.
  bool active = false;
  for (auto& [id, s] : streams_) {
    if (!s->reset) chain_.httpStats->downstream_rq_rx_reset++;  // each stream the end resets, as Envoy's
    s->reset = true;
    s->arrived.notify();
    s->drained.notify();
    if (s->downstream) {
      active = true;
      s->downstream->clientGone();
    }
  }
  if (active && (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)) {
    chain_.httpStats->downstream_cx_destroy_remote_active_rq++;
  }
  // The writer sends what is left (a GOAWAY) and ends, within a deadline of its own: a timed-out
  // stream fails every operation until it has a new one.
  stream_.expiresAfter(kIdleTimeout);
  flush();
}

Task<void> H2Connection::writeLoop(std::shared_ptr<H2Connection> self) {
  std::string out;
  beast::error_code ec;
  for (;;) {
    out.clear();
    codec_.drainOutput(out);
    if (out.empty()) {
      if (closed_) break;
      co_await writable_.wait();
      continue;
    }
    // Without streams the reader's idle deadline stands: a PING's acknowledgement does not make an
    // idle connection busy, in Envoy either.
    if (!streams_.empty()) stream_.expiresAfter(kIdleTimeout);
    co_await boost::asio::async_write(stream_, boost::asio::buffer(out), into(ec));
    if (ec) break;
  }
  writerDone_ = true;
  stream_.socket().shutdown(Socket::shutdown_send, ec);
}

void H2Connection::onHeaders(h2::StreamId id, h2::Headers headers, bool endStream) {
  auto s = std::make_shared<H2Stream>(stream_.get_executor(), id);
  s->head = std::move(headers);
  s->ended = endStream;
  streams_[id] = s;
  boost::asio::co_spawn(stream_.get_executor(), serveStream(shared_from_this(), std::move(s)), boost::asio::detached);
}

void H2Connection::onData(h2::StreamId id, std::string_view data) {
  if (H2Stream* s = find(id)) {
    s->body.append(data);
    s->arrived.notify();
  }
}

void H2Connection::onEndStream(h2::StreamId id) {
  if (H2Stream* s = find(id)) {
    s->ended = true;
    s->arrived.notify();
  }
}

void H2Connection::onReset(h2::StreamId id, h2::ErrorCode) {
  if (H2Stream* s = find(id)) {
    chain_.httpStats->downstream_rq_rx_reset++;
    s->reset = true;
    s->arrived.notify();
    s->drained.notify();
    if (s->downstream) s->downstream->clientGone();  // a gRPC cancellation reaches the upstream
  }
}

void H2Connection::onSendDrained(h2::StreamId id) {
  if (H2Stream* s = find(id)) s->drained.notify();
}

void H2Connection::onClose(h2::StreamId id) {
  if (H2Stream* s = find(id)) {
    s->ended = true;
    s->arrived.notify();
    s->drained.notify();
  }
}

void H2Connection::done(h2::StreamId id) {
  streams_.erase(id);
  // The reader waits with no deadline while streams are open: the idle timeout starts now.
  if (streams_.empty()) stream_.expiresAt(idleDeadline());
  flush();
}

Task<void> H2Connection::serveStream(std::shared_ptr<H2Connection> self, std::shared_ptr<H2Stream> s) {
  bool hasLength = false;
  RequestHead req;
  requestHead(s->head, req, hasLength);
  // END_STREAM came with the HEADERS: no body, so no chunked framing upstream (where the HTTP/1
  // encoder adds "content-length: 0" as Envoy's, upstream.cc).
  bool bodiless = s->ended && s->body.empty();
  H2Body source(*this, *s, !hasLength && !bodiless);
  RequestBody body(source);
  chain_.httpStats->downstream_rq_total++;
  chain_.httpStats->downstream_rq_http2_total++;
  GaugeHold active(chain_.httpStats->downstream_rq_active);
  RequestLog log = requestLog(chain_, req, "HTTP/2", stream_.socket(), local_, connectionId_);
  auto started = Clock::now();
  H2Downstream d(*this, *s, log, chain_.server, req.method() == "HEAD", grpc::isGrpcRequest(s->head));
  {
    s->downstream = &d;  // cleared however forward() ends
    struct Unwatch {
      H2Stream& s;
      ~Unwatch() { s.downstream = nullptr; }
    } unwatch{*s};
    co_await forward(worker_, chain_, req, body, d);
  }
  chain_.httpStats->downstream_rq.charge(log.responseCode);
  chain_.httpStats->downstream_rq_time.record(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started));
  // A response that went out before the request's body ended: as Envoy, the rest of it is
  // refused (RST_STREAM NO_ERROR once the response is out, RFC 9113 §8.1).
  if (!s->ended && !s->reset) resetStream(s->id, h2::ErrorCode::kNoError);
  if (!chain_.accessLogs.empty()) {
    log.bytesReceived = body.bytes();
    log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    log.requestDuration = requestDuration(body, started);
    finishGrpcStatus(log);
    for (const auto& l : chain_.accessLogs) l->write(log);
  }
  done(s->id);
}

}  // namespace

Task<void> serveHttp2(Worker& worker, Socket socket, std::string preread, FilterChainView chain,
                      std::shared_ptr<ListenerDrain> drain, boost::asio::ip::tcp::endpoint downstreamLocal,
                      uint64_t connectionId) {
  auto c = std::make_shared<H2Connection>(worker, std::move(socket), std::move(chain), std::move(drain), downstreamLocal,
                                          connectionId);
  co_await c->run(std::move(preread));
}

}  // namespace meshd::proxy
