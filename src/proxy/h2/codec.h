#pragma once
// HTTP/2 framing for meshproxy, sans I/O: nghttp2 behind a small API that both ends of the proxy can
// drive from their coroutines. Bytes from the socket go to feed(); the frames they carry come back
// as Callbacks events, synchronously, from within feed(). What the application submits (heads,
// body pieces, trailers, resets, GOAWAY) is framed into bytes that drainOutput() hands over for
// the socket. Nothing here reads a socket, owns a timer or knows Asio or Beast.
//
// ServerCodec is the downstream side (h2c by prior knowledge, as Envoy's HTTP connection manager
// with the http2 codec: no HTTP/1.1 `Upgrade: h2c`); ClientCodec the upstream side (clusters with
// http2_protocol_options, which meshd writes for App Mesh `http2` and `grpc` listeners).
//
// Flow control is the application's: received body bytes stay charged to the stream's and the
// connection's receive windows until the application consume()s them, so a reader that stops
// taking data stops the peer once a window is spent. On the sending side onSendDrained() says when
// a stream's submitted body has gone into frames, so a writer can hold one piece at a time.
//
// One codec per connection, one thread: not thread-safe. Callbacks may submit, reset, consume and
// goAway(), but must not call feed() or drainOutput() nor destroy the codec.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "proxy/h2/headers.h"

struct nghttp2_session;

namespace meshd::proxy::h2 {

using StreamId = int32_t;
struct StreamState;  // stream_state.h

// RFC 9113 §7: the codes RST_STREAM and GOAWAY carry.
enum class ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kSettingsTimeout = 0x4,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,  // not processed at all: safe to retry elsewhere
  kCancel = 0x8,
  kCompressionError = 0x9,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
  kInadequateSecurity = 0xc,
  kHttp11Required = 0xd,
};

// "PROTOCOL_ERROR", ... as RFC 9113 names them.
std::string_view errorCodeName(ErrorCode code);

// The connection's settings, defaulting to Envoy's Http2ProtocolOptions (envoy/config/core/v3/
// protocol.proto) and HttpConnectionManager's header limits.
struct Settings {
  // max_concurrent_streams: "allowed for peer on one HTTP/2 connection. Valid values range from 1
  // to 2147483647 (2^31 - 1) and defaults to 2147483647". A client also assumes it of the server
  // until the server's SETTINGS arrive, as Envoy does.
  uint32_t maxConcurrentStreams = 2147483647;
  // initial_stream_window_size: "Valid values range from 65535 (2^16 - 1, HTTP/2 default) to
  // 2147483647 (2^31 - 1, HTTP/2 maximum) and defaults to 268435456 (256 * 1024 * 1024)".
  uint32_t initialStreamWindow = 256 * 1024 * 1024;
  // initial_connection_window_size: "Similar to initial_stream_window_size, but for
  // connection-level flow-control window. Currently, this has the same minimum/maximum/default".
  uint32_t initialConnectionWindow = 256 * 1024 * 1024;
  // hpack_table_size: "defaults to 4096".
  uint32_t hpackTableSize = 4096;
  // HttpConnectionManager.max_request_headers_kb (60) and HttpProtocolOptions.max_headers_count
  // (100): a larger header block resets its stream, as Envoy's codec does.
  HeaderLimits headerLimits;
  // override_stream_error_on_invalid_http_message: by default (false) a malformed message (bad
  // pseudo-headers, content-length not matching the body) fails the whole connection, as with
  // Envoy; true resets only its stream.
  bool streamErrorOnInvalidHttpMessage = false;
};

// What a codec reports. Every call comes from within feed() or drainOutput().
class Callbacks {
 public:
  virtual ~Callbacks() = default;

  // A stream's head, pseudo-headers first: a new request on a server, a response on a client (a
  // 1xx informational head may precede the final one). `endStream`: the HEADERS frame ended the
  // peer's side (a request without body), onEndStream follows at once.
  virtual void onHeaders(StreamId id, Headers headers, bool endStream) = 0;
  // Body bytes, valid during the call only. They count against the receive windows until the
  // application calls consume() for them.
  virtual void onData(StreamId id, std::string_view data) = 0;
  // Trailers; they end the peer's side (onEndStream follows at once).
  virtual void onTrailers(StreamId id, Headers trailers) = 0;
  // The peer's side of the stream is complete: once per stream, after its last head, data or
  // trailers.
  virtual void onEndStream(StreamId id) = 0;
  // The stream ended without completing: RST_STREAM from the peer or from us, refused by the
  // peer's GOAWAY (kRefusedStream), or dropped by the library for a protocol error. Its last event.
  virtual void onReset(StreamId id, ErrorCode code) = 0;
  // Both sides completed. Its last event; the id means nothing to the codec afterwards.
  virtual void onClose(StreamId id) {}
  // The peer's GOAWAY: streams above `lastStreamId` were not processed (each gets
  // onReset(kRefusedStream) right after); no new stream may start on this connection.
  virtual void onGoAway(StreamId lastStreamId, ErrorCode code, std::string_view debugData) = 0;
  // Every body byte submitted for the stream has been framed into drainOutput()'s bytes: the
  // writer may submit its next piece. Only after the stream had some queued.
  virtual void onSendDrained(StreamId id) {}
};

class Codec {
 public:
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;
  virtual ~Codec();

  // Bytes read from the connection. An error means the connection is beyond repair (not HTTP/2,
  // a connection-level protocol error, a flood): drainOutput() may still hold a GOAWAY that says
  // so; write it if possible, then close. No event follows: the application takes its open streams
  // for reset, as it does when the transport ends.
  Status feed(std::span<const uint8_t> bytes);
  Status feed(std::string_view bytes) {
    return feed(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }

  // Appends the bytes to write to the connection (frames for everything submitted so far, SETTINGS
  // acknowledgements, WINDOW_UPDATEs, PING replies).
  void drainOutput(std::string& out);
  // drainOutput() would append something.
  bool wantsWrite() const;
  // Nothing more will be read or written: GOAWAY was exchanged and no stream is left, or the
  // connection failed. The application closes the socket.
  bool done() const;

  // A body piece for a stream whose head went without end of stream; `endStream` ends our side.
  // Queued until the peer's windows allow it; false when the stream is gone or already ended.
  bool submitData(StreamId id, std::string_view data, bool endStream);
  // Ends our side of the stream with trailers, after any queued body.
  bool submitTrailers(StreamId id, const Headers& trailers);
  // RST_STREAM; onReset(id, code) follows once it is out. kNoError after our side ended (a server
  // that answered in full before the request's body arrived, RFC 9113 §8.1) waits until the
  // response is out, and the peer then sees its stream complete.
  bool resetStream(StreamId id, ErrorCode code);
  // The application has taken `bytes` of the stream's received body: the peer may send that much
  // more (WINDOW_UPDATEs go out as the windows get below half).
  void consume(StreamId id, size_t bytes);
  // Body bytes submitted for the stream that are not framed yet (waiting for the peer's windows).
  size_t queuedBytes(StreamId id) const;
  // Streams the codec knows: open ones, plus a server's still being received.
  size_t activeStreams() const { return streams_.size(); }

  // GOAWAY. With kNoError the streams already started complete and none other is accepted (use
  // ServerCodec::shutdownNotice() first to let in-flight requests arrive); another code ends the
  // connection as soon as the frame is out.
  void goAway(ErrorCode code = ErrorCode::kNoError);

 protected:
  Codec(Callbacks& callbacks, const Settings& settings, bool client);

  StreamState* find(StreamId id);
  const StreamState* find(StreamId id) const;
  // Submits a head for the stream; with a body to follow, body pieces come from the stream's `out`.
  // Returns nghttp2's result (a stream id for a request).
  int32_t submitHead(StreamId id, const Headers& headers, bool endStream);
  // Frames what is pending into out_, then reports drained queues and abandoned requests.
  void pump();
  // A request nghttp2 still holds unsent (waiting for a stream slot) is reset or refused: nghttp2
  // would report it only once a slot frees, the application hears of it now.
  void abandon(StreamId id, ErrorCode code);
  void resume(StreamId id, StreamState& s);

  nghttp2_session* session_ = nullptr;
  Callbacks& callbacks_;
  const Settings settings_;
  const bool client_;
  std::unordered_map<StreamId, std::unique_ptr<StreamState>> streams_;

 private:
  friend struct SessionCallbacks;  // nghttp2's callbacks, in session_callbacks.cc

  std::string out_;                    // framed bytes not handed out yet
  std::vector<StreamId> drained_;      // streams whose queue emptied in the current pump
  std::vector<std::pair<StreamId, ErrorCode>> abandoned_;  // unsent requests reset by the application
  std::optional<std::string> failure_; // why the connection is beyond repair
  bool appTerminated_ = false;         // the application sent a GOAWAY with an error code
  bool busy_ = false;                  // inside feed() or drainOutput()
};

// The downstream side: accepts the client connection preface (h2c prior knowledge).
class ServerCodec : public Codec {
 public:
  explicit ServerCodec(Callbacks& callbacks, const Settings& settings = {});

  // The response head for a request stream (onHeaders seen). A 1xx head may come first; with
  // `endStream` the response has no body (a gRPC trailers-only reply, a 204).
  bool submitResponse(StreamId id, const Headers& headers, bool endStream);
  // A GOAWAY naming the highest stream id (2^31-1): new streams are still accepted while the
  // client learns that the connection is draining; goAway() later closes the door.
  void shutdownNotice();
};

// The upstream side: sends the connection preface itself.
class ClientCodec : public Codec {
 public:
  explicit ClientCodec(Callbacks& callbacks, const Settings& settings = {});

  // A request's head; with !endStream its body follows through submitData / submitTrailers. The
  // new stream's id, or 0 when this connection can take no new stream (GOAWAY, ids spent): the
  // caller uses another connection. Requests over the server's concurrency limit wait in the codec.
  StreamId submitRequest(const Headers& headers, bool endStream);
  // submitRequest can succeed.
  bool canSubmitRequest() const;
  // The server's SETTINGS_MAX_CONCURRENT_STREAMS (our settings' value until the server's arrive).
  uint32_t peerMaxConcurrentStreams() const;
};

}  // namespace meshd::proxy::h2
