#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

namespace {

// Still open and quiet: a peek finds nothing to read and no end of stream.
bool stillUsable(Socket& s) {
  char c;
  ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamPool::Stream UpstreamPool::take(const tcp::endpoint& host) {
  auto it = idle_.find(host);
  if (it == idle_.end()) return nullptr;
  auto now = std::chrono::steady_clock::now();
  while (!it->second.empty()) {
    Idle idle = std::move(it->second.back());
    it->second.pop_back();
    auto idleFor = now - idle.since;
    if (idleFor < kMaxIdleTime && (idleFor < kPeekAfter || stillUsable(idle.stream->socket()))) return std::move(idle.stream);
    boost::system::error_code ec;
    idle.stream->socket().close(ec);
  }
  idle_.erase(it);
  return nullptr;
}

void UpstreamPool::give(const tcp::endpoint& host, Stream s) {
  auto& list = idle_[host];
  if (list.size() >= kMaxIdlePerHost) return;  // `s` closes as it goes out of scope
  list.push_back({std::move(s), std::chrono::steady_clock::now()});
}

}  // namespace meshd::proxy
