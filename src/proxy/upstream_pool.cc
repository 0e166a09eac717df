#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
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

// A request waiting for a connection, in its host's list while it lives: woken by a connection
// given back (`handed`) or closed (`freed`), or by its deadline.
struct UpstreamPool::Waiter {
  Waiter(const Executor& ex, std::shared_ptr<HostConnections> h) : timer(ex), host(std::move(h)) {
    host->waiters.push_back(this);
  }
  ~Waiter() { std::erase(host->waiters, this); }
  Timer timer;
  std::shared_ptr<HostConnections> host;
  Stream handed;
  bool freed = false;
};

UpstreamPool::Slot::Slot(ActiveConnection active, std::shared_ptr<HostConnections> host)
    : active_(std::move(active)), host_(std::move(host)) {
  if (host_) host_->open++;
}

UpstreamPool::Slot& UpstreamPool::Slot::operator=(Slot&& o) noexcept {
  free();
  active_ = std::move(o.active_);
  host_ = std::move(o.host_);
  return *this;
}

void UpstreamPool::Slot::free() {
  active_.end();
  if (!host_) return;
  host_->open--;
  if (!host_->waiters.empty()) {  // room for one more connection: the first waiting request may open it
    Waiter* w = host_->waiters.front();
    host_->waiters.pop_front();
    w->freed = true;
    w->timer.cancel();
  }
  host_.reset();
}

UpstreamPool::Pending::Pending(std::shared_ptr<ClusterStats> cluster) : cluster_(std::move(cluster)) {
  cluster_->upstream_rq_pending_active++;
  cluster_->upstream_rq_pending_total++;
}

void UpstreamPool::Pending::end() {
  if (cluster_) cluster_->upstream_rq_pending_active--;
  cluster_.reset();
}

std::shared_ptr<UpstreamPool::HostConnections>& UpstreamPool::host(std::string_view cluster, const tcp::endpoint& host) {
  auto c = hosts_.find(cluster);
  if (c == hosts_.end()) c = hosts_.emplace(std::string(cluster), Hosts{}).first;
  auto& h = c->second[host];
  if (!h) h = std::make_shared<HostConnections>();
  return h;
}

Task<UpstreamPool::Acquired> UpstreamPool::acquire(std::string_view cluster, const std::shared_ptr<ClusterStats>& stats,
                                                   const std::shared_ptr<HostStats>& hostStats,
                                                   const CircuitBreakers& limits, const tcp::endpoint& endpoint,
                                                   std::chrono::steady_clock::time_point deadline, WaitCancel* cancel) {
  Acquired out;
  out.stream = take(cluster, endpoint);
  if (out.stream) {
    out.kind = Acquired::kReused;
    co_return out;
  }
  if (stats->upstream_rq_pending_active.load(std::memory_order_relaxed) >= limits.maxPendingRequests) {
    stats->upstream_rq_pending_overflow++;
    out.kind = Acquired::kOverflow;
    co_return out;
  }
  out.pending = Pending(stats);
  std::shared_ptr<HostConnections> h = host(cluster, endpoint);  // a copy: the map may change meanwhile
  for (;;) {
    bool room = stats->upstream_cx_active.load(std::memory_order_relaxed) < limits.maxConnections;
    if (!room) stats->upstream_cx_overflow++;
    if (room || h->open == 0) {
      out.kind = Acquired::kConnect;
      out.slot = Slot(ActiveConnection(stats, hostStats), h);
      co_return out;
    }
    if (cancel && cancel->cancelled()) {
      out.kind = Acquired::kCancelled;
      co_return out;
    }
    Waiter w(co_await boost::asio::this_coro::executor, h);
    w.timer.expires_at(deadline);
    if (cancel) cancel->timer_ = &w.timer;
    boost::system::error_code ignored;
    co_await w.timer.async_wait(into(ignored));
    if (cancel) cancel->timer_ = nullptr;
    if (w.handed) {
      out.kind = Acquired::kHandedOver;
      out.stream = std::move(w.handed);
      out.pending.end();
      co_return out;
    }
    if (cancel && cancel->cancelled()) {
      out.kind = Acquired::kCancelled;
      co_return out;
    }
    if (!w.freed) {
      out.kind = Acquired::kTimeout;
      co_return out;
    }
  }
}

UpstreamPool::Stream UpstreamPool::take(std::string_view cluster, const tcp::endpoint& endpoint) {
  auto c = hosts_.find(cluster);
  if (c == hosts_.end()) return nullptr;
  auto it = c->second.find(endpoint);
  if (it == c->second.end()) return nullptr;
  auto& idle = it->second->idle;
  auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    Idle last = std::move(idle.back());
    idle.pop_back();
    if (usable(last, now)) return std::move(last.stream);
  }  // each one not usable closes as it goes
  return nullptr;
}

bool UpstreamPool::usable(const Idle& idle, std::chrono::steady_clock::time_point now) {
  auto idleFor = now - idle.since;
  if (idleFor >= idle.stream->options().idleTimeout) {
    if (ClusterStats* stats = idle.stream->stats()) stats->upstream_cx_idle_timeout++;
    return false;
  }
  return idleFor < kPeekAfter || stillUsable(idle.stream->socket());
}

void UpstreamPool::give(std::string_view cluster, const tcp::endpoint& endpoint, Stream s) {
  if (keep_ && !hosts_.contains(cluster) && !keep_(cluster)) return;  // a removed cluster's: `s` closes
  if (s->carriedLast()) {  // it drains (closes) now: Envoy's max_requests_per_connection
    if (ClusterStats* stats = s->stats()) stats->upstream_cx_max_requests++;
    return;
  }
  auto& h = host(cluster, endpoint);
  if (!h->waiters.empty()) {
    Waiter* w = h->waiters.front();
    h->waiters.pop_front();
    w->handed = std::move(s);
    w->timer.cancel();
    return;
  }
  if (h->idle.size() >= kMaxIdlePerHost) return;  // `s` closes as it goes out of scope
  if (!sweeper_) {
    sweeper_ = std::make_shared<Sweeper>(s->get_executor());
    boost::asio::co_spawn(s->get_executor(), sweep(this, sweeper_), boost::asio::detached);
  }
  h->idle.push_back({std::move(s), std::chrono::steady_clock::now()});
}

struct UpstreamPool::Sweeper {
  explicit Sweeper(const Executor& ex) : timer(ex) {}
  Timer timer;
  bool stopped = false;  // the pool is gone
};

Task<> UpstreamPool::sweep(UpstreamPool* pool, std::shared_ptr<Sweeper> sweeper) {
  for (;;) {
    sweeper->timer.expires_after(kSweepEvery);
    boost::system::error_code ignored;
    co_await sweeper->timer.async_wait(into(ignored));
    if (sweeper->stopped) co_return;
    if (!pool->sweepOnce()) break;
  }
  pool->sweeper_.reset();  // the next connection given back starts another
}

bool UpstreamPool::sweepOnce() {
  auto now = std::chrono::steady_clock::now();
  bool anyLeft = false;
  for (auto& [name, hosts] : hosts_) {
    for (auto& [endpoint, h] : hosts) {
      std::vector<Idle> kept, closing;  // closing ones go after the list is whole again (their slots update `h`)
      for (Idle& i : h->idle) (usable(i, now) ? kept : closing).push_back(std::move(i));
      h->idle = std::move(kept);
      anyLeft = anyLeft || !h->idle.empty();
    }
  }
  return anyLeft;
}

UpstreamPool::~UpstreamPool() {
  if (sweeper_) {
    sweeper_->stopped = true;
    sweeper_->timer.cancel();
  }
  for (auto& [name, hosts] : hosts_) closeIdle(hosts);
}

void UpstreamPool::closeIdle(Hosts& hosts) {
  // Moved out first: each closing stream's slot updates its host's counts as it goes.
  for (auto& [endpoint, h] : hosts) std::vector<Idle> closing = std::move(h->idle);
}

void UpstreamPool::retain(std::function<bool(std::string_view cluster)> keep) {
  keep_ = std::move(keep);
  for (auto c = hosts_.begin(); c != hosts_.end();) {
    if (keep_(c->first)) {
      ++c;
      continue;
    }
    closeIdle(c->second);
    c = hosts_.erase(c);
  }
  // Hosts gone from a kept cluster (an endpoint update) leave nothing behind once their last
  // connection closed.
  for (auto& [name, hosts] : hosts_) {
    std::erase_if(hosts, [](const auto& h) { return h.second->unused(); });
  }
}

}  // namespace meshd::proxy
