#pragma once
// The downstream request's body as the upstream attempts see it: read from the client as it
// arrives, forwarded at once, and also kept while it fits in kRetryBufferLimit so that a retry can
// send it again. As Envoy's router, a request whose body outgrew that buffer is no longer retried.
// Worker thread only.

#include <chrono>
#include <optional>
#include <string>

#include "proxy/body_source.h"
#include "proxy/http_write.h"

namespace meshd::proxy {

class RequestBody {
 public:
  static constexpr size_t kRetryBufferLimit = 1 << 20;  // Envoy's default per-connection buffer limit

  explicit RequestBody(BodySource& reader)
      : reader_(reader), framing_(reader.chunked() ? Framing::kChunked : Framing::kRaw) {}

  // All of the body has been read from the client.
  bool done() const { return reader_.done(); }
  // More of it can be read without waiting for the client.
  bool ready() const { return reader_.ready(); }
  // Everything read so far is in kept(): an attempt can (re)start from the beginning.
  bool replayable() const { return replayable_; }
  const std::string& kept() const { return kept_; }
  Framing framing() const { return framing_; }
  uint64_t bytes() const { return reader_.bytes(); }
  // When its last byte was read; none for a request without a body (done with its head).
  std::optional<std::chrono::steady_clock::time_point> completed() const { return completed_; }
  // From now on the client may be silent this long between pieces (see BodySource::idleTimeout).
  void idleTimeout(std::chrono::milliseconds d) { reader_.idleTimeout(d); }

  // The next piece from the client (see BodyReader::next), kept too while the buffer allows.
  Task<std::string_view> next(boost::beast::error_code& ec) {
    std::string_view piece = co_await reader_.next(ec);
    if (reader_.done() && !completed_) completed_ = std::chrono::steady_clock::now();
    if (replayable_ && kept_.size() + piece.size() <= kRetryBufferLimit) {
      kept_.append(piece);
    } else if (replayable_) {
      replayable_ = false;
      std::string().swap(kept_);  // from here on the body only streams: give the memory back
    }
    co_return piece;
  }

 private:
  BodySource& reader_;
  Framing framing_;
  bool replayable_ = true;
  std::string kept_;
  std::optional<std::chrono::steady_clock::time_point> completed_;
};

}  // namespace meshd::proxy
