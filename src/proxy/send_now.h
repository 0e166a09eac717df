#pragma once
// A write attempted at once, without the reactor: most writes of a proxied request fit the socket's
// send buffer, and an async write that completes at once still goes through the scheduler's queue
// (a post, a suspension and a resumption, and an extra pass of the reactor before the coroutine
// goes on). The caller waits for the reactor only for what did not fit.

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cerrno>

namespace meshd::proxy {

// Sends from `buffers` (an array of const_buffer; empty ones are skipped) what the socket takes
// now. Returns the bytes sent; 0 with `ec` clear means it would block. `ec` is set on a failure.
template <size_t N>
size_t sendNow(int fd, const std::array<boost::asio::const_buffer, N>& buffers, boost::system::error_code& ec) {
  std::array<iovec, N> iov;
  size_t used = 0;
  for (const auto& b : buffers) {
    if (b.size() == 0) continue;
    iov[used++] = iovec{const_cast<void*>(b.data()), b.size()};
  }
  if (used == 0) return 0;
  ssize_t n;
  if (used == 1) {
    n = ::send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
  } else {
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = used;
    n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (n >= 0) return static_cast<size_t>(n);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ec.assign(errno, boost::system::system_category());
  return 0;
}

// Drops the first `n` bytes of `buffers`, leaving empty buffers where they were.
template <size_t N>
void consume(std::array<boost::asio::const_buffer, N>& buffers, size_t n) {
  for (auto& b : buffers) {
    if (n == 0) break;
    size_t k = std::min(n, b.size());
    b += k;
    n -= k;
  }
}

}  // namespace meshd::proxy
