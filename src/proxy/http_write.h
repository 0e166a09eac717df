#pragma once
// Writes HTTP/1.1 messages as gather writes of buffers made here: a local reply whose framing is set
// (content-length, never chunked) as its head and body, and a streamed body as the head (before the
// first piece) and each piece, chunk-framed when the message is chunked. The bytes Beast's serializer
// would write, without its per-buffer iteration over every field (a sizeable part of the proxy's CPU
// per request). Worker thread only.

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>

#include "proxy/send_now.h"
#include "proxy/timed_stream.h"

namespace meshd::proxy {

// The head (start line, fields, empty line) as Beast's serializer writes it.
template <bool isRequest>
std::string headOf(const boost::beast::http::header<isRequest>& m) {
  namespace http = boost::beast::http;
  std::string head;
  head.reserve(512);
  const char version[] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + m.version() / 10), '.',
                          static_cast<char>('0' + m.version() % 10)};
  if constexpr (isRequest) {
    auto method = m.method_string();
    auto target = m.target();
    head.append(method.data(), method.size()).append(1, ' ').append(target.data(), target.size()).append(1, ' ');
    head.append(version, sizeof version).append("\r\n");
  } else {
    unsigned code = m.result_int();
    auto reason = m.reason();
    if (reason.empty()) reason = http::obsolete_reason(static_cast<http::status>(code));
    const char status[] = {' ', static_cast<char>('0' + code / 100), static_cast<char>('0' + code / 10 % 10),
                           static_cast<char>('0' + code % 10), ' '};
    head.append(version, sizeof version).append(status, sizeof status).append(reason.data(), reason.size()).append("\r\n");
  }
  for (const auto& f : m) {
    auto name = f.name_string();
    auto value = f.value();
    head.append(name.data(), name.size()).append(": ").append(value.data(), value.size()).append("\r\n");
  }
  head.append("\r\n");
  return head;
}

// co_await writeMessage(stream, m, head, ec): `head` holds the serialized head until the write
// completes. Not a coroutine itself, so no frame is allocated for it. `m` must not be chunked.
template <bool isRequest>
auto writeMessage(TimedStream& stream,
                  const boost::beast::http::message<isRequest, boost::beast::http::string_body>& m, std::string& head,
                  boost::beast::error_code& ec) {
  head = headOf(m);
  std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(head), boost::asio::buffer(m.body())};
  return boost::asio::async_write(stream, buffers, into(ec));
}

// How a streamed body goes on the wire: as it is (content-length, or delimited by the connection's
// close) or in chunks.
enum class Framing { kRaw, kChunked };

// One write of a streamed message: `head` (empty after the first), one piece of the body, and when
// `last` the end of a chunked body. Holds the buffers (and the chunk size line) until the write
// completes; must outlive it.
//   if (!w.sendNow(stream, head, piece, framing, last, ec)) co_await w.rest(stream, ec);
// or, where the write may as well wait for the reactor, co_await w.write(...).
class PieceWrite {
 public:
  // Up to this much in several buffers is copied into one: a single buffer goes out with send(2),
  // several with sendmsg(2), whose iovec handling costs the kernel more than the copy (a small
  // response is its head and its body).
  static constexpr size_t kCoalesce = 2048;

  // Sends what the socket takes now (send_now.h). True when that was all of it, or when the write
  // failed (`ec`); otherwise rest() writes the remainder.
  bool sendNow(TimedStream& stream, std::string_view head, std::string_view piece, Framing framing, bool last,
               boost::beast::error_code& ec) {
    size_t total = prepare(head, piece, framing, last);
    if (total == 0) return true;
    if (stream.timedOut()) return false;  // rest() fails it as the stream's operations do
    size_t n = meshd::proxy::sendNow(stream.socket().native_handle(), buffers_, ec);
    if (ec) return true;
    stream.countSent(n);
    consume(buffers_, n);
    return n == total;
  }

  // co_await: writes what sendNow() left.
  auto rest(TimedStream& stream, boost::beast::error_code& ec) {
    const boost::asio::const_buffer* only = nullptr;
    size_t used = 0;
    for (const auto& b : buffers_) {
      if (b.size() == 0) continue;
      ++used;
      only = &b;
    }
    if (used == 1) return boost::asio::async_write(stream, *only, into(ec));
    return boost::asio::async_write(stream, buffers_, into(ec));
  }

  // co_await: the whole piece, through the reactor.
  auto write(TimedStream& stream, std::string_view head, std::string_view piece, Framing framing, bool last,
             boost::beast::error_code& ec) {
    prepare(head, piece, framing, last);
    return rest(stream, ec);
  }

 private:
  // Fills buffers_ (one buffer when the pieces are small enough to copy) and returns their size.
  size_t prepare(std::string_view head, std::string_view piece, Framing framing, bool last) {
    bool chunk = framing == Framing::kChunked && !piece.empty();
    size_t n = chunk ? static_cast<size_t>(std::snprintf(size_, sizeof size_, "%zx\r\n", piece.size())) : 0;
    static constexpr std::string_view kCrlf = "\r\n";
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    bool end = framing == Framing::kChunked && last;
    buffers_ = {boost::asio::buffer(head.data(), head.size()), boost::asio::buffer(size_, n),
                boost::asio::buffer(piece.data(), piece.size()), boost::asio::buffer(kCrlf.data(), chunk ? 2 : 0),
                boost::asio::buffer(kLastChunk.data(), end ? kLastChunk.size() : 0)};
    size_t total = 0, used = 0;
    for (const auto& b : buffers_) {
      total += b.size();
      used += b.size() != 0;
    }
    if (used > 1 && total <= kCoalesce) {
      size_t at = 0;
      for (const auto& b : buffers_) at += boost::asio::buffer_copy(boost::asio::buffer(copy_ + at, total - at), b);
      buffers_ = {boost::asio::buffer(copy_, total)};
    }
    return total;
  }

  char size_[20];
  std::array<boost::asio::const_buffer, 5> buffers_;
  char copy_[kCoalesce];
};

}  // namespace meshd::proxy
