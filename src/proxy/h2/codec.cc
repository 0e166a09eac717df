#include "proxy/h2/codec.h"

#include <algorithm>
#include <cassert>
#include <memory>
#include <new>
#include <utility>

#include <nghttp2/nghttp2.h>

#include "proxy/h2/session_callbacks.h"
#include "proxy/h2/stream_state.h"

namespace meshd::proxy::h2 {

namespace {

constexpr uint32_t kDefaultHpackTableSize = 4096;  // RFC 9113 §6.5.2
constexpr uint32_t kDefaultWindow = 65535;          // RFC 9113 §6.9.2, both windows

struct OptionDeleter {
  void operator()(nghttp2_option* o) const { nghttp2_option_del(o); }
};

std::unique_ptr<nghttp2_option, OptionDeleter> options(const Settings& s, bool client) {
  nghttp2_option* o = nullptr;
  if (nghttp2_option_new(&o) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_option, OptionDeleter> owned(o);
  // The application's consume() opens the windows again, not the arrival of the data.
  nghttp2_option_set_no_auto_window_update(o, 1);
  // As Envoy: no priority tree, so closed streams need not be kept (memory on idle connections).
  nghttp2_option_set_no_closed_streams(o, 1);
  // As Envoy: RFC 9113's ban on leading and trailing whitespace in values would break deployments
  // that HTTP/1 and older HTTP/2 stacks served.
  nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(o, 1);
  // As Envoy: nghttp2's 1000 outstanding SETTINGS/PING acks trip on legitimate bursts.
  nghttp2_option_set_max_outbound_ack(o, 10000);
  // Header sizes are limited on receipt (HeaderLimits), not when forwarding what was accepted.
  nghttp2_option_set_max_send_header_block_length(o, 0x2000000);
  if (s.hpackTableSize != kDefaultHpackTableSize) {
    nghttp2_option_set_max_deflate_dynamic_table_size(o, s.hpackTableSize);
  }
  // As Envoy's upstream codec: until the server's SETTINGS say otherwise, assume our own limit
  // rather than nghttp2's 100, so a burst of requests on a new connection is not held back.
  if (client) nghttp2_option_set_peer_max_concurrent_streams(o, s.maxConcurrentStreams);
  return owned;
}

}  // namespace

std::string_view errorCodeName(ErrorCode code) { return nghttp2_http2_strerror(static_cast<uint32_t>(code)); }

Codec::Codec(Callbacks& callbacks, const Settings& settings, bool client)
    : callbacks_(callbacks), settings_(settings), client_(client) {
  auto opt = options(settings, client);
  int rv = client ? nghttp2_session_client_new2(&session_, SessionCallbacks::table(), this, opt.get())
                  : nghttp2_session_server_new2(&session_, SessionCallbacks::table(), this, opt.get());
  if (rv != 0) throw std::bad_alloc();

  std::vector<nghttp2_settings_entry> iv = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.maxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.initialStreamWindow},
  };
  if (settings.hpackTableSize != kDefaultHpackTableSize) {
    iv.push_back({NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, settings.hpackTableSize});
  }
  // Envoy does not proxy server push: a client refuses it.
  if (client) iv.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  // The connection window is not a setting: it grows with a WINDOW_UPDATE on stream 0.
  if (settings.initialConnectionWindow != kDefaultWindow) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(settings.initialConnectionWindow));
  }
}

Codec::~Codec() { nghttp2_session_del(session_); }

StreamState* Codec::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

const StreamState* Codec::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Status Codec::feed(std::span<const uint8_t> bytes) {
  assert(!busy_ && "feed() from a codec callback");
  busy_ = true;
  if (!failure_) {
    ssize_t rv = nghttp2_session_mem_recv(session_, bytes.data(), bytes.size());
    if (rv < 0) {
      // Fatal to the session (not HTTP/2, a flood, a frame our callbacks refused): say so with a
      // GOAWAY if the peer can still read one.
      if (!failure_) failure_ = std::string("http2: ") + nghttp2_strerror(static_cast<int>(rv));
      nghttp2_session_terminate_session(
          session_, rv == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
    }
  }
  // Frame the replies now: a connection error nghttp2 handled itself only shows as its GOAWAY.
  pump();
  busy_ = false;
  return failure_ ? Status(ErrorKind::kBadRequest, *failure_) : okStatus();
}

void Codec::pump() {
  for (;;) {
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        if (!failure_) failure_ = std::string("http2: ") + nghttp2_strerror(static_cast<int>(n));
        return;
      }
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (drained_.empty() && abandoned_.empty()) return;
    // Writers may submit their next piece from onSendDrained: frame that too.
    auto gone = std::exchange(abandoned_, {});
    auto ids = std::exchange(drained_, {});
    for (auto [id, code] : gone) abandon(id, code);
    for (StreamId id : ids) {
      if (find(id)) callbacks_.onSendDrained(id);
    }
  }
}

void Codec::abandon(StreamId id, ErrorCode code) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second->headOut) return;  // sent: nghttp2 reports it in time
  streams_.erase(it);  // when nghttp2 drops the request later, nobody is told twice
  callbacks_.onReset(id, code);
}

void Codec::drainOutput(std::string& out) {
  assert(!busy_ && "drainOutput() from a codec callback");
  busy_ = true;
  pump();
  busy_ = false;
  if (out.empty()) {
    out.swap(out_);
  } else {
    out.append(out_);
  }
  out_.clear();
}

bool Codec::wantsWrite() const { return !out_.empty() || nghttp2_session_want_write(session_) != 0; }

bool Codec::done() const {
  return out_.empty() && nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

int32_t Codec::submitHead(StreamId id, const Headers& headers, bool endStream) {
  OutboundHeaders nv(headers);
  nghttp2_data_provider provider{};
  provider.read_callback = &SessionCallbacks::readBody;
  nghttp2_data_provider* body = endStream ? nullptr : &provider;
  if (client_) return nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), body, nullptr);
  return nghttp2_submit_response(session_, id, nv.data(), nv.size(), body);
}

void Codec::resume(StreamId id, StreamState& s) {
  if (!s.deferred) return;
  s.deferred = false;
  nghttp2_session_resume_data(session_, id);
}

bool Codec::submitData(StreamId id, std::string_view data, bool endStream) {
  StreamState* s = find(id);
  if (!s || !s->bodyProvider || s->outEnded) return false;
  // Keep the queue from growing by what was framed already when the writer runs ahead.
  if (s->outPos > 0 && s->outPos * 2 >= s->out.size()) {
    s->out.erase(0, s->outPos);
    s->outPos = 0;
  }
  s->out.append(data);
  s->outEnded = endStream;
  resume(id, *s);
  return true;
}

bool Codec::submitTrailers(StreamId id, const Headers& trailers) {
  if (trailers.empty()) return submitData(id, {}, true);  // an empty HEADERS frame says nothing more
  StreamState* s = find(id);
  if (!s || !s->bodyProvider || s->outEnded) return false;
  s->trailers = trailers;
  s->outEnded = true;
  resume(id, *s);
  return true;
}

bool Codec::resetStream(StreamId id, ErrorCode code) {
  StreamState* s = find(id);
  if (!s) return false;
  // nghttp2 drops whatever is still queued for a stream it resets: with NO_ERROR after a complete
  // response (RFC 9113 §8.1) the reset waits until that response's END_STREAM is out.
  if (code == ErrorCode::kNoError && s->outEnded && !s->localEnded) {
    s->resetWhenEnded = true;
    return true;
  }
  if (client_ && !s->headOut) abandoned_.emplace_back(id, code);
  return nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, static_cast<uint32_t>(code)) == 0;
}

void Codec::consume(StreamId id, size_t bytes) {
  StreamState* s = find(id);
  if (!s) return;  // closed: its connection window came back then
  bytes = std::min(bytes, s->unconsumed);
  s->unconsumed -= bytes;
  if (bytes > 0) nghttp2_session_consume(session_, id, bytes);
}

size_t Codec::queuedBytes(StreamId id) const {
  const StreamState* s = find(id);
  return s ? s->out.size() - s->outPos : 0;
}

void Codec::goAway(ErrorCode code) {
  if (code == ErrorCode::kNoError) {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    return;
  }
  appTerminated_ = true;
  nghttp2_session_terminate_session(session_, static_cast<uint32_t>(code));
}

ServerCodec::ServerCodec(Callbacks& callbacks, const Settings& settings) : Codec(callbacks, settings, false) {}

bool ServerCodec::submitResponse(StreamId id, const Headers& headers, bool endStream) {
  StreamState* s = find(id);
  if (!s || !s->announced || s->headSubmitted) return false;
  if (isInformational(headers)) {  // 100 Continue and the like: a HEADERS frame that leaves the response open
    if (endStream) return false;
    OutboundHeaders nv(headers);
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nv.data(), nv.size(), nullptr) == 0;
  }
  if (submitHead(id, headers, endStream) != 0) return false;
  s->headSubmitted = true;
  s->bodyProvider = !endStream;
  s->outEnded = endStream;
  return true;
}

void ServerCodec::shutdownNotice() { nghttp2_submit_shutdown_notice(session_); }

ClientCodec::ClientCodec(Callbacks& callbacks, const Settings& settings) : Codec(callbacks, settings, true) {}

StreamId ClientCodec::submitRequest(const Headers& headers, bool endStream) {
  // nghttp2 would take the request and refuse it only when sending it.
  if (!canSubmitRequest()) return 0;
  int32_t id = submitHead(0, headers, endStream);
  if (id <= 0) return 0;
  auto& s = streams_[id] = std::make_unique<StreamState>();
  s->announced = true;
  s->headSubmitted = true;
  s->bodyProvider = !endStream;
  s->outEnded = endStream;
  return id;
}

bool ClientCodec::canSubmitRequest() const { return nghttp2_session_check_request_allowed(session_) != 0; }

uint32_t ClientCodec::peerMaxConcurrentStreams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

}  // namespace meshd::proxy::h2
