#pragma once
// Writes an HTTP/1.1 message whose framing is already set (content-length, never chunked: frame()
// and prepare_payload() leave it so) as two buffers, the head and the body, in one gather write: the
// bytes Beast's serializer would write, without its per-buffer iteration over every field (a
// sizeable part of the proxy's CPU per request). Worker thread only.

#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <string>

namespace meshd::proxy {

// The head (start line, fields, empty line) as Beast's serializer writes it.
template <bool isRequest>
std::string headOf(const boost::beast::http::message<isRequest, boost::beast::http::string_body>& m) {
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
auto writeMessage(boost::beast::tcp_stream& stream,
                  const boost::beast::http::message<isRequest, boost::beast::http::string_body>& m, std::string& head,
                  boost::beast::error_code& ec) {
  head = headOf(m);
  std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(head), boost::asio::buffer(m.body())};
  return boost::asio::async_write(stream, buffers, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace meshd::proxy
