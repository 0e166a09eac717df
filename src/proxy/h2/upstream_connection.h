#pragma once
// One HTTP/2 connection to an upstream host (h2c, prior knowledge: no TLS, no Upgrade), as Envoy
// opens for clusters with http2_protocol_options, carrying many requests at once. The connection's
// reader coroutine feeds its ClientCodec and hands each event to the stream it concerns, waking the
// coroutine that waits on that stream (Signal); its writer sends what the codec framed, one write
// in flight, everything submitted meanwhile going out together in the next. Losing the connection,
// or a codec error, fails every open stream.
//
// A connection lives while its reader and writer run: close() ends it (the pool does), dropping the
// last reference does not. Worker thread only: the connection, its streams and their callers share
// one io_context.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/h2/codec.h"
#include "proxy/stats.h"
#include "proxy/upstream_options.h"
#include "proxy/signal.h"
#include "proxy/timed_stream.h"

namespace meshd::proxy::h2 {

class UpstreamConnection;

// How a stream ended or why a wait on it gave up, in the terms of Envoy's stream reset reasons.
struct StreamResult {
  enum Kind {
    kOk,
    kReset,              // RST_STREAM from the server ("remote reset") or our reset(); `code` says why
    kConnectionFailure,  // the connection closed or failed under the stream ("connection termination")
    kProtocolError,      // the server broke HTTP/2 (a codec error): the connection is gone too
    kRefused,            // REFUSED_STREAM, or above a GOAWAY's last stream id: not processed, safe to retry
    kTimeout,            // the wait's deadline passed; the stream is still open
  };
  Kind kind = kOk;
  ErrorCode code = ErrorCode::kNoError;  // kReset and kRefused: the code the server gave

  bool ok() const { return kind == kOk; }
  // Envoy's name for the reset reason (%UPSTREAM_TRANSPORT_FAILURE_REASON%, logs).
  std::string_view describe() const;
};

// One request/response exchange on an UpstreamConnection. Its owner's coroutine (one for sending,
// and one for receiving, which may be the same) waits on it; the connection's reader fills it in.
// Destroying a stream that has not completed resets it (CANCEL), so a caller that gives up stops
// the server's work and frees the stream's slot; destroy it only when no coroutine waits on it.
class UpstreamStream {
 public:
  using Clock = std::chrono::steady_clock;
  ~UpstreamStream();
  UpstreamStream(const UpstreamStream&) = delete;
  UpstreamStream& operator=(const UpstreamStream&) = delete;

  StreamId id() const { return id_; }
  // The address of this side of its connection (port 0 once it is closed).
  boost::asio::ip::tcp::endpoint localEndpoint() const;
  // The last stream its connection takes (max_requests_per_connection): the connection drains.
  bool lastOnItsConnection() const { return last_; }

  // Submits a request body piece (`endStream`: the last) and returns once the codec has framed it,
  // which the server's flow-control windows pace: a caller holding one piece at a time thus holds
  // no more than that. False when the stream was reset or its connection lost, our side had
  // already ended, or `deadline` passed first (the stream is then left as it is).
  Task<bool> send(std::string_view piece, bool endStream, Clock::time_point deadline);
  // Ends our side with trailers, after any body submitted; false as send() would be.
  bool sendTrailers(const Headers& trailers);

  // Waits for the response's final head (1xx heads are skipped), until `deadline`.
  Task<StreamResult> awaitHead(Clock::time_point deadline);
  // The final response head (after awaitHead succeeded): ":status" first.
  const Headers& head() const { return head_; }
  // The next piece of the response body as it arrives, valid until the next call. Empty at the end
  // of the body (`result` ok) or on failure (`result` says which). A piece handed out is given back
  // to the flow-control windows at once: the server sends more while the caller relays it.
  Task<std::string_view> next(Clock::time_point deadline, StreamResult& result);
  // The response's trailers, once the body's end was reached; nullptr if there were none.
  const Headers* trailers() const { return trailers_ ? &*trailers_ : nullptr; }
  // The trailers moved out, for a caller done with the stream.
  std::optional<Headers> takeTrailers() {
    std::optional<Headers> t = std::move(trailers_);
    trailers_.reset();
    return t;
  }
  // The response head came with END_STREAM: no body, no trailers (gRPC's trailers-only response).
  bool headEndedStream() const { return headEndedStream_; }
  // The response was received whole (head, body, trailers) and all of it handed out.
  bool done() const { return remoteEnded_ && pending_.empty(); }
  // The stream ended without completing (reset, refused, connection lost); ok otherwise.
  const StreamResult& failure() const { return failure_; }
  // Received body bytes not handed out yet (the stream's flow-control window bounds them).
  size_t buffered() const { return pending_.size(); }

  // RST_STREAM with `code`: waits on the stream then fail with kReset.
  void reset(ErrorCode code = ErrorCode::kCancel);

 private:
  friend class UpstreamConnection;
  UpstreamStream(std::shared_ptr<UpstreamConnection> connection, StreamId id);

  void fail(StreamResult r);
  // Waits on `signal` until `ready()` holds or the stream fails; false at `deadline` (kTimeout in
  // `result`) or on failure (the failure in `result`).
  template <typename Ready>
  Task<bool> waitFor(Signal& signal, Clock::time_point deadline, StreamResult& result, Ready ready);

  std::shared_ptr<UpstreamConnection> connection_;
  const StreamId id_;
  Signal received_;  // the response made progress (head, data, end) or the stream failed
  Signal sent_;      // the body submitted has been framed, or the stream failed
  bool attached_ = true;    // the connection dispatches events to this stream
  bool headReceived_ = false;
  bool headEndedStream_ = false;
  bool remoteEnded_ = false;
  bool localEnded_ = false;
  bool sendPending_ = false;  // a send() waits for its piece to be framed
  bool ending_ = false;       // ... and that piece is the last (the codec reports no drain for it)
  bool last_ = false;
  Headers head_;
  std::optional<Headers> trailers_;
  std::string pending_;  // body received, not handed out yet
  std::string handed_;   // the piece next() returned last
  StreamResult failure_;
};

class UpstreamConnection : public std::enable_shared_from_this<UpstreamConnection>, private Callbacks {
 public:
  using Clock = std::chrono::steady_clock;
  using tcp = boost::asio::ip::tcp;

  // Connects to `host` within `connectDeadline` and starts the connection's reader and writer (the
  // connection preface and SETTINGS go out at once). nullptr with `ec` set on failure
  // (beast::error::timeout at the deadline).
  static Task<std::shared_ptr<UpstreamConnection>> connect(Executor ex, tcp::endpoint host, Settings settings,
                                                           Clock::time_point connectDeadline,
                                                           boost::system::error_code& ec, UpstreamOptions options = {},
                                                           ActiveConnection active = {});
  ~UpstreamConnection() override;

  // A new stream may start here: open, no GOAWAY received, fewer streams than the server's
  // SETTINGS_MAX_CONCURRENT_STREAMS and our own max_concurrent_streams allow.
  bool usable() const;
  // Starts a request; its body (unless `endStream`) follows through the stream's send(). `head`
  // has the pseudo-headers first and no connection-specific fields (RFC 9113 §8.2.2). nullptr when
  // the connection is not usable, or nghttp2 refused the head.
  std::unique_ptr<UpstreamStream> open(const Headers& head, bool endStream);

  // GOAWAY (NO_ERROR) and close now, failing the streams still open (kConnectionFailure).
  void close();
  // No new stream starts here; the open ones run to their end, then the connection closes (at once
  // when none is open). As Envoy drains a removed cluster's pool.
  void closeWhenIdle();
  // Closed or failed: nothing more will happen on it.
  bool closed() const { return closed_; }
  // The server's GOAWAY arrived: the streams it processes finish, no new one starts.
  bool draining() const { return goAwayReceived_; }
  // Streams open on this connection (opened and neither completed, failed nor given up).
  size_t activeStreams() const { return streams_.size(); }
  // Since when no stream has been open (Clock::time_point::max() while some are).
  Clock::time_point idleSince() const { return idleSince_; }
  const tcp::endpoint& host() const { return host_; }
  const UpstreamOptions& options() const { return options_; }

 private:
  friend class UpstreamStream;
  UpstreamConnection(Executor ex, tcp::endpoint host, const Settings& settings, const UpstreamOptions& options);

  Task<> readLoop(std::shared_ptr<UpstreamConnection> self);
  Task<> writeLoop(std::shared_ptr<UpstreamConnection> self);
  // The writer has something new to send (a head, body, reset, WINDOW_UPDATE).
  void wakeWriter();
  // After the codec framed output or took input: wake senders whose last piece went out, close a
  // connection the codec is done with.
  void afterCodec();
  // Every open stream fails with `kind`; no new stream starts. The socket closes once the writer
  // has sent what the codec still holds (a GOAWAY saying why), or at once with `now`.
  void fail(StreamResult::Kind kind, bool now);
  void detach(UpstreamStream& s);

  // Callbacks, from within feed() and drainOutput().
  UpstreamStream* find(StreamId id);
  void onHeaders(StreamId id, Headers headers, bool endStream) override;
  void onData(StreamId id, std::string_view data) override;
  void onTrailers(StreamId id, Headers trailers) override;
  void onEndStream(StreamId id) override;
  void onReset(StreamId id, ErrorCode code) override;
  void onClose(StreamId id) override;
  void onGoAway(StreamId lastStreamId, ErrorCode code, std::string_view debugData) override;
  void onSendDrained(StreamId id) override;

  const Settings settings_;
  const UpstreamOptions options_;
  uint32_t streamsOpened_ = 0;
  ActiveConnection active_;  // its cluster's and host's upstream_cx_active count it from connect to close
  const tcp::endpoint host_;
  TimedStream socket_;
  ClientCodec codec_;
  Signal writable_;             // wakes the writer
  bool writerIdle_ = false;     // the writer waits on writable_
  bool closed_ = false;         // failed or closed: no new stream, streams failed
  bool goAwayReceived_ = false;
  bool closeWhenIdle_ = false;
  std::unordered_map<StreamId, UpstreamStream*> streams_;
  size_t endingSenders_ = 0;    // streams whose final piece waits to be framed (no onSendDrained for it)
  Clock::time_point idleSince_;
};

}  // namespace meshd::proxy::h2
