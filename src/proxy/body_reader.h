#pragma once
// Reads an HTTP/1.1 message body piece by piece once its head has been parsed, so the proxy forwards
// a body as it arrives and holds at most one piece of it. A content-length body is passed through
// from the connection's read buffer without a copy (the common case, and the hot path); a chunked or
// close-delimited body goes through Beast's parser, which removes the chunk framing, into a scratch
// buffer allocated only then. Worker thread only; lives no longer than the stream, buffer and parser
// it reads from.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "proxy/body_source.h"
#include "proxy/timed_stream.h"

namespace meshd::proxy {

// A streamed body has no limit to hold it to. Not boost::none: Boost 1.74's parser compares a
// content-length against the optional limit, and any number is greater than none.
inline constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();

template <bool isRequest>
class BodyReader final : public BodySource {
 public:
  using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>;
  static constexpr size_t kPieceSize = 64 << 10;

  // After the head was read with `parser`. `readTimeout`, when set, bounds each read (a peer's idle
  // time), never past `cap`; otherwise the stream's own expiry applies (an upstream's route deadline).
  BodyReader(TimedStream& stream, boost::beast::flat_buffer& buffer, Parser& parser,
             std::optional<std::chrono::milliseconds> readTimeout = std::nullopt,
             std::chrono::steady_clock::time_point cap = std::chrono::steady_clock::time_point::max())
      : stream_(stream), buffer_(buffer), parser_(&parser), readTimeout_(readTimeout), cap_(cap) {
    if (parser.is_done()) {
      remaining_ = 0;
    } else if (!parser.chunked() && parser.content_length()) {
      remaining_ = *parser.content_length();
    }
  }
  // A body of `length` bytes (0: none), its head read without a parser (response_head.h).
  BodyReader(TimedStream& stream, boost::beast::flat_buffer& buffer, uint64_t length,
             std::optional<std::chrono::milliseconds> readTimeout = std::nullopt,
             std::chrono::steady_clock::time_point cap = std::chrono::steady_clock::time_point::max())
      : stream_(stream), buffer_(buffer), readTimeout_(readTimeout), cap_(cap), remaining_(length) {}
  // The last piece handed out stays in the connection's buffer until now (pipelined bytes follow it).
  ~BodyReader() { buffer_.consume(pending_); }
  BodyReader(const BodyReader&) = delete;
  BodyReader& operator=(const BodyReader&) = delete;

  // BodySource
  bool done() const override { return remaining_ ? *remaining_ == 0 : parser_->is_done(); }
  bool ready() const override { return done() || buffer_.size() > pending_; }
  bool chunked() const override { return parser_ && parser_->chunked(); }
  uint64_t bytes() const override { return bytes_; }
  void idleTimeout(std::chrono::milliseconds d) override { readTimeout_ = d; }

  Task<std::string_view> next(boost::beast::error_code& ec) override {
    buffer_.consume(pending_);
    pending_ = 0;
    ec = {};
    if (done()) co_return std::string_view();
    if (!remaining_) co_return co_await nextParsed(ec);
    // A content-length body, here rather than in a coroutine of its own: one frame less per piece.
    if (buffer_.size() == 0) {
      armTimeout();
      size_t n = co_await stream_.async_read_some(buffer_.prepare(kPieceSize), into(ec));
      buffer_.commit(n);
      if (ec == boost::asio::error::eof) ec = boost::beast::http::error::partial_message;
      if (ec) co_return std::string_view();
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(*remaining_, buffer_.size()));
    pending_ = n;
    *remaining_ -= n;
    bytes_ += n;
    co_return std::string_view(static_cast<const char*>(buffer_.data().data()), n);
  }

 private:
  void armTimeout() {
    if (readTimeout_) stream_.expiresAt(std::min(cap_, std::chrono::steady_clock::now() + *readTimeout_));
  }

  Task<std::string_view> nextParsed(boost::beast::error_code& ec) {
    namespace http = boost::beast::http;
    if (!scratch_) scratch_ = std::make_unique<char[]>(kPieceSize);
    Parser& parser = *parser_;
    auto& body = parser.get().body();
    body.data = scratch_.get();
    body.size = kPieceSize;
    while (!parser.is_done() && body.size == kPieceSize) {
      if (buffer_.size() > 0) {  // parse what is buffered before reading more
        size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_buffer) break;
        if (!ec && used > 0) continue;
        if (ec && ec != http::error::need_more) co_return std::string_view();
      }
      armTimeout();
      co_await http::async_read_some(stream_, buffer_, parser, into(ec));
      if (ec && ec != http::error::need_buffer) co_return std::string_view();
    }
    ec = {};
    size_t n = kPieceSize - body.size;
    bytes_ += n;
    co_return std::string_view(scratch_.get(), n);
  }

  TimedStream& stream_;
  boost::beast::flat_buffer& buffer_;
  Parser* parser_ = nullptr;  // a chunked or connection-delimited body's
  std::optional<std::chrono::milliseconds> readTimeout_;
  std::chrono::steady_clock::time_point cap_;
  std::optional<uint64_t> remaining_;  // a content-length body (or none): bytes not yet handed out
  size_t pending_ = 0;                 // bytes of buffer_ handed out by the last next()
  uint64_t bytes_ = 0;
  std::unique_ptr<char[]> scratch_;
};

}  // namespace meshd::proxy
