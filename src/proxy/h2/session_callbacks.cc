#include "proxy/h2/session_callbacks.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "proxy/h2/stream_state.h"

namespace meshd::proxy::h2 {

namespace {

Codec& codec(void* user) { return *static_cast<Codec*>(user); }

std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

const nghttp2_session_callbacks* SessionCallbacks::table() {
  struct Deleter {
    void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
  };
  static const std::unique_ptr<nghttp2_session_callbacks, Deleter> kTable = [] {
    nghttp2_session_callbacks* c = nullptr;
    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_begin_headers_callback(c, &onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(c, &onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, &onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, &onStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(c, &onFrameSend);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(c, &onInvalidFrame);
    return std::unique_ptr<nghttp2_session_callbacks, Deleter>(c);
  }();
  return kTable.get();
}

ssize_t SessionCallbacks::readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                                   uint32_t* flags, nghttp2_data_source*, void* user) {
  Codec& c = codec(user);
  StreamState* s = c.find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // cannot happen: the stream resets
  size_t n = std::min(length, s->out.size() - s->outPos);
  if (n > 0) std::memcpy(buf, s->out.data() + s->outPos, n);
  s->outPos += n;
  if (s->outPos < s->out.size()) return static_cast<ssize_t>(n);

  // The queue is empty.
  s->out.clear();
  s->outPos = 0;
  if (!s->outEnded) {
    if (n > 0) {
      c.drained_.push_back(id);
      return static_cast<ssize_t>(n);
    }
    s->deferred = true;  // until submitData resumes it
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (s->trailers) {
    // Trailers end the stream instead of this DATA frame (nghttp2 skips the frame when empty).
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    Headers trailers = std::move(*s->trailers);
    s->trailers.reset();
    OutboundHeaders nv(trailers);
    if (nghttp2_submit_trailer(session, id, nv.data(), nv.size()) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return static_cast<ssize_t>(n);
}

int SessionCallbacks::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  Codec& c = codec(user);
  // A server's streams start with the client's first HEADERS; a client's when it submits them.
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST && !c.client_) {
    c.streams_.try_emplace(frame->hd.stream_id, std::make_unique<StreamState>());
  }
  return 0;
}

int SessionCallbacks::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t nameLen,
                               const uint8_t* value, size_t valueLen, uint8_t, void* user) {
  Codec& c = codec(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  StreamState* s = c.find(frame->hd.stream_id);
  if (!s) return 0;
  // Over Envoy's limits: nghttp2 resets the stream (INTERNAL_ERROR) and skips the rest of the block.
  if (!s->in.add(view(name, nameLen), view(value, valueLen), c.settings_.headerLimits)) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return 0;
}

void SessionCallbacks::onHeadersFrame(Codec& c, const nghttp2_frame* frame) {
  StreamId id = frame->hd.stream_id;
  StreamState* s = c.find(id);
  // A server's stream starts with a request head; anything else on one it never announced (its
  // head was refused) is nghttp2's to discard.
  if (!s || (!c.client_ && !s->announced && frame->headers.cat != NGHTTP2_HCAT_REQUEST)) return;
  bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  Headers h = s->in.take();
  if (s->finalHeadersReceived) {  // nghttp2 has checked that trailers end the stream
    s->remoteEnded = true;
    c.callbacks_.onTrailers(id, std::move(h));
    c.callbacks_.onEndStream(id);
    return;
  }
  if (!(c.client_ && isInformational(h))) s->finalHeadersReceived = true;
  s->announced = true;
  s->remoteEnded = end;
  c.callbacks_.onHeaders(id, std::move(h), end);
  if (end) c.callbacks_.onEndStream(id);
}

int SessionCallbacks::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  Codec& c = codec(user);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      onHeadersFrame(c, frame);
      break;
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        StreamState* s = c.find(frame->hd.stream_id);
        if (s && s->announced) {
          s->remoteEnded = true;
          c.callbacks_.onEndStream(frame->hd.stream_id);
        }
      }
      break;
    case NGHTTP2_GOAWAY: {
      // nghttp2 closes the streams we sent above last_stream_id (REFUSED_STREAM) right after this;
      // requests still waiting for a stream slot would wait for one forever.
      c.callbacks_.onGoAway(frame->goaway.last_stream_id, static_cast<ErrorCode>(frame->goaway.error_code),
                            view(frame->goaway.opaque_data, frame->goaway.opaque_data_len));
      std::vector<StreamId> unsent;
      for (const auto& [id, s] : c.streams_) {
        if (c.client_ && !s->headOut) unsent.push_back(id);
      }
      for (StreamId id : unsent) c.abandon(id, ErrorCode::kRefusedStream);
      break;
    }
    default:
      break;
  }
  return 0;
}

int SessionCallbacks::onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                                  void* user) {
  Codec& c = codec(user);
  StreamState* s = c.find(id);
  if (!s || !s->announced) {  // nobody will consume it: give the windows back at once
    nghttp2_session_consume(session, id, len);
    return 0;
  }
  s->unconsumed += len;
  c.callbacks_.onData(id, view(data, len));
  return 0;
}

int SessionCallbacks::onStreamClose(nghttp2_session* session, int32_t id, uint32_t code, void* user) {
  Codec& c = codec(user);
  auto it = c.streams_.find(id);
  if (it == c.streams_.end()) return 0;
  std::unique_ptr<StreamState> s = std::move(it->second);
  c.streams_.erase(it);
  // Data the application still holds no longer matters to the peer: the connection's window gets
  // it back now, and later consume() calls for the stream are ignored.
  if (s->unconsumed > 0) nghttp2_session_consume_connection(session, s->unconsumed);
  if (!s->announced) return 0;  // a request rejected before its head was whole
  // RFC 9113 §8.1: a server may answer in full, then stop the request's upload with NO_ERROR.
  bool complete = code == NGHTTP2_NO_ERROR && s->remoteEnded && (s->localEnded || c.client_);
  if (complete) {
    c.callbacks_.onClose(id);
  } else {
    c.callbacks_.onReset(id, static_cast<ErrorCode>(code));
  }
  return 0;
}

int SessionCallbacks::onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  Codec& c = codec(user);
  uint8_t type = frame->hd.type;
  if (type == NGHTTP2_HEADERS) {
    if (StreamState* s = c.find(frame->hd.stream_id)) s->headOut = true;
  }
  if ((type == NGHTTP2_HEADERS || type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    StreamState* s = c.find(frame->hd.stream_id);
    if (s) {
      s->localEnded = true;
      if (s->resetWhenEnded && !s->remoteEnded) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
      }
    }
  }
  // nghttp2 answers a connection error with a GOAWAY of its own, and tells nothing else: this is
  // where feed() learns the connection failed, and why.
  if (type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR && !c.appTerminated_ && !c.failure_) {
    auto code = static_cast<ErrorCode>(frame->goaway.error_code);
    std::string why = "http2: sent GOAWAY " + std::string(errorCodeName(code));
    if (frame->goaway.opaque_data_len > 0) {
      why += ": " + std::string(view(frame->goaway.opaque_data, frame->goaway.opaque_data_len));
    }
    c.failure_ = std::move(why);
  }
  return 0;
}

int SessionCallbacks::onInvalidFrame(nghttp2_session*, const nghttp2_frame*, int libError, void* user) {
  Codec& c = codec(user);
  bool messaging = libError == NGHTTP2_ERR_HTTP_HEADER || libError == NGHTTP2_ERR_HTTP_MESSAGING;
  if (messaging && c.settings_.streamErrorOnInvalidHttpMessage) return 0;  // nghttp2 resets the stream
  // As Envoy's codec: any other invalid frame fails the connection.
  if (!c.failure_) c.failure_ = std::string("http2: invalid frame: ") + nghttp2_strerror(libError);
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

}  // namespace meshd::proxy::h2
