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

UpstreamPool::Stream UpstreamPool::take(std::string_view cluster, const tcp::endpoint& host) {
  auto c = idle_.find(cluster);
  if (c == idle_.end()) return nullptr;
  auto it = c->second.find(host);
  if (it == c->second.end()) return nullptr;
  auto now = std::chrono::steady_clock::now();
  while (!it->second.empty()) {
    Idle idle = std::move(it->second.back());
    it->second.pop_back();
    auto idleFor = now - idle.since;
    if (idleFor < kMaxIdleTime && (idleFor < kPeekAfter || stillUsable(idle.stream->socket()))) return std::move(idle.stream);
    boost::system::error_code ec;
    idle.stream->socket().close(ec);
  }
  c->second.erase(it);
  if (c->second.empty()) idle_.erase(c);
  return nullptr;
}

void UpstreamPool::give(std::string_view cluster, const tcp::endpoint& host, Stream s) {
  auto c = idle_.find(cluster);
  if (c == idle_.end()) {
    if (keep_ && !keep_(cluster)) return;  // a removed cluster's: `s` closes
    c = idle_.emplace(std::string(cluster), Hosts{}).first;
  }
  auto& list = c->second[host];
  if (list.size() >= kMaxIdlePerHost) return;  // `s` closes as it goes out of scope
  list.push_back({std::move(s), std::chrono::steady_clock::now()});
}

void UpstreamPool::retain(std::function<bool(std::string_view cluster)> keep) {
  keep_ = std::move(keep);
  std::erase_if(idle_, [&](const auto& c) { return !keep_(c.first); });  // their streams close
}

}  // namespace meshd::proxy
