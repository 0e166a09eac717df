#pragma once
// nghttp2's callbacks for a Codec (the session's user data): they turn frames into the Codec's
// stream bookkeeping and the application's Callbacks events, and feed submitted body bytes into
// DATA frames. Internal to the codec.

#include <nghttp2/nghttp2.h>

#include "proxy/h2/codec.h"

namespace meshd::proxy::h2 {

struct SessionCallbacks {
  // The table every session is created with (nghttp2 copies it).
  static const nghttp2_session_callbacks* table();

  // The data provider's read callback: the stream's queued body, then end of stream or trailers.
  static ssize_t readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user);

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t nameLen,
                      const uint8_t* value, size_t valueLen, uint8_t flags, void* user);
  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int onDataChunk(nghttp2_session* session, uint8_t flags, int32_t id, const uint8_t* data, size_t len,
                         void* user);
  static int onStreamClose(nghttp2_session* session, int32_t id, uint32_t code, void* user);
  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int onInvalidFrame(nghttp2_session* session, const nghttp2_frame* frame, int libError, void* user);

 private:
  static void onHeadersFrame(Codec& c, const nghttp2_frame* frame);
};

}  // namespace meshd::proxy::h2
