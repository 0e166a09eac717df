#pragma once
// A message body as the proxy forwards it: piece by piece as it arrives from the peer, whatever the
// protocol (an HTTP/1.1 body through body_reader.h, an HTTP/2 stream's DATA frames through
// h2_session.cc). Worker thread only.

#include <boost/beast/core/error.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

#include "proxy/io.h"

namespace meshd::proxy {

class BodySource {
 public:
  virtual ~BodySource() = default;
  // Every piece of the body has been handed out.
  virtual bool done() const = 0;
  // The next piece can be had without waiting for the peer.
  virtual bool ready() const = 0;
  // No length was announced: to an HTTP/1.1 peer the body goes chunked.
  virtual bool chunked() const = 0;
  virtual uint64_t bytes() const = 0;
  // The next piece, valid until the next call; empty only when done() or on failure (`ec`: timeout,
  // reset, a malformed body, or the peer going away before the body's end).
  virtual Task<std::string_view> next(boost::beast::error_code& ec) = 0;
  // A request body's bound on the wait for each next piece (the stream idle timer), from now on;
  // next() fails with beast::error::timeout past it. Response bodies are bounded otherwise.
  virtual void idleTimeout(std::chrono::milliseconds) {}
};

}  // namespace meshd::proxy
