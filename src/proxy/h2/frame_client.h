#pragma once
// For the end-to-end tests: an HTTP/2 client spoken frame by frame with our codec, over a blocking
// loopback socket. Test code only.
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "proxy/h2/codec_test_util.h"
#include "proxy/test_util.h"

namespace meshd::proxy::testing {

// An HTTP/2 client spoken frame by frame with our codec, for what nghttp cannot show: timing, a
// stalled body, GOAWAYs.
class FrameClient {
 public:
  explicit FrameClient(int port) : fd_(connectLoopback(port)), codec_(events) {
    timeval bound{5, 0};  // a proxy that never answers must not hang the test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    events.attach(codec_);
  }
  ~FrameClient() { close(); }
  // Closes the connection (its FIN), as a client that goes away.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return fd_ >= 0; }
  h2::ClientCodec& codec() { return codec_; }
  // Sends what the codec has framed.
  bool flush() {
    std::string out;
    codec_.drainOutput(out);
    return out.empty() || ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  }
  // Reads once, feeds the codec and answers it; false at the end of the connection (closed() then
  // says whether the proxy closed it) or on an error.
  bool pump() {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = n == 0;
      return false;
    }
    raw.append(buf, static_cast<size_t>(n));
    return codec_.feed(std::string_view(buf, static_cast<size_t>(n))).ok() && flush();
  }
  bool closed() const { return closed_; }

  h2::testing::Recorder events;
  std::string raw;  // every byte received (the codec reads no more after a GOAWAY with no stream open)

 private:
  int fd_;
  h2::ClientCodec codec_;
  bool closed_ = false;
};

}  // namespace meshd::proxy::testing
