#include "proxy/h2/upstream_pool.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <optional>
#include <utility>

namespace meshd::proxy::h2 {

// A connection being made: the requests that wait for it sleep on `done`, which the attempt's end
// cancels, and then find it among the host's open connections (or its error here).
struct UpstreamPool::Connecting {
  explicit Connecting(const Executor& ex) : done(ex) { done.expires_at(Clock::time_point::max()); }
  Timer done;
  boost::system::error_code ec;
  size_t streams = 1;  // the requests it is made for: the one that started it and those waiting
};

namespace {

// A request waiting for a stream, in its cluster's upstream_rq_pending_active meanwhile.
class Pending {
 public:
  explicit Pending(ClusterStats* stats) : stats_(stats) {
    if (!stats_) return;
    stats_->upstream_rq_pending_active++;
    stats_->upstream_rq_pending_total++;
  }
  ~Pending() {
    if (stats_) stats_->upstream_rq_pending_active--;
  }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

 private:
  ClusterStats* stats_;
};

// A usable connection that cannot start the request was given a head nghttp2 refuses: another
// connection would refuse it too.
std::unique_ptr<UpstreamStream> refusedHeadIsAnError(std::unique_ptr<UpstreamStream> s,
                                                     boost::system::error_code& ec) {
  if (!s) ec = boost::asio::error::invalid_argument;
  return s;
}

}  // namespace

UpstreamPool::UpstreamPool(Executor ex) : state_(std::make_shared<State>(ex)) {}

UpstreamPool::~UpstreamPool() {
  state_->closed = true;
  state_->sweepTimer.cancel();
  auto hosts = std::exchange(state_->hosts, {});
  for (auto& [endpoint, host] : hosts) {
    for (auto& c : host.open) c->close();
  }
}

Task<std::unique_ptr<UpstreamStream>> UpstreamPool::open(std::string_view cluster, const tcp::endpoint& host,
                                                         const Settings& settings,
                                                         const Headers& head, bool endStream,
                                                         Clock::time_point connectDeadline,
                                                         boost::system::error_code& ec, bool* connected,
                                                         const UpstreamOptions& options, ClusterCounts counts) {
  return openOn(state_, Key(cluster, host), settings, options, std::move(counts), head, endStream, connectDeadline, ec,
                connected);
}

void UpstreamPool::retain(const std::function<bool(std::string_view cluster)>& keep) {
  for (auto& [key, host] : state_->hosts) {
    if (keep(key.first)) continue;
    for (auto& c : host.open) c->closeWhenIdle();
  }
}

size_t UpstreamPool::connections(std::string_view cluster, const tcp::endpoint& host) const {
  auto it = state_->hosts.find(Key(cluster, host));
  if (it == state_->hosts.end()) return 0;
  size_t n = it->second.connecting ? 1 : 0;
  for (const auto& c : it->second.open) n += c->closed() ? 0 : 1;
  return n;
}

Task<std::unique_ptr<UpstreamStream>> UpstreamPool::openOn(std::shared_ptr<State> st, Key key,
                                                           Settings settings, UpstreamOptions options,
                                                           ClusterCounts counts, const Headers& head, bool endStream,
                                                           Clock::time_point connectDeadline,
                                                           boost::system::error_code& ec, bool* connected) {
  ec = {};
  std::optional<Pending> pending;  // from the moment the request has to wait for a connection
  for (;;) {
    if (st->closed) {
      ec = boost::asio::error::operation_aborted;
      co_return nullptr;
    }
    Host& h = st->hosts[key];
    std::erase_if(h.open, [](const auto& c) { return c->closed(); });
    for (const auto& c : h.open) {
      if (c->usable()) co_return refusedHeadIsAnError(c->open(head, endStream), ec);
    }

    if (!pending) {
      if (counts.stats && counts.stats->upstream_rq_pending_active.load(std::memory_order_relaxed) >= counts.maxPendingRequests) {
        counts.stats->upstream_rq_pending_overflow++;
        ec = boost::asio::error::no_buffer_space;
        co_return nullptr;
      }
      pending.emplace(counts.stats.get());
    }
    // Wait for the connection being made, unless more requests wait for it than it could carry.
    if (std::shared_ptr<Connecting> made = h.connecting; made && made->streams < settings.maxConcurrentStreams) {
      ++made->streams;
      boost::system::error_code ignored;
      co_await made->done.async_wait(into(ignored));
      if (made->ec) {
        ec = made->ec;
        co_return nullptr;
      }
      continue;  // it is among the open ones now (or already full, closed: look again)
    }

    auto made = std::make_shared<Connecting>(st->ex);
    h.connecting = made;
    if (connected) *connected = true;
    auto c = co_await UpstreamConnection::connect(st->ex, key.second, settings, connectDeadline, ec, options,
                                                  ActiveConnection(counts.stats, counts.host));
    made->ec = ec;
    made->done.cancel();
    if (st->closed) {
      if (c) c->close();
      ec = boost::asio::error::operation_aborted;
      co_return nullptr;
    }
    Host& now = st->hosts[key];  // the sweeper may have dropped the entry meanwhile
    if (now.connecting == made) now.connecting.reset();
    if (!c) co_return nullptr;
    now.open.push_back(c);
    if (!st->sweeping) {
      st->sweeping = true;
      boost::asio::co_spawn(st->ex, sweep(st), boost::asio::detached);
    }
    if (c->usable()) co_return refusedHeadIsAnError(c->open(head, endStream), ec);
  }
}

Task<> UpstreamPool::sweep(std::shared_ptr<State> st) {
  while (!st->closed) {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (auto it = st->hosts.begin(); it != st->hosts.end();) {
      std::erase_if(it->second.open, [&](const std::shared_ptr<UpstreamConnection>& c) {
        if (c->closed()) return true;
        auto idleTimeout = Clock::duration(c->options().idleTimeout);
        auto since = c->idleSince();
        if (since == Clock::time_point::max()) {
          next = std::min(next, now + idleTimeout);  // a busy connection may be idle by then
          return false;
        }
        if (now - since >= idleTimeout) {
          c->close();
          return true;
        }
        next = std::min(next, since + idleTimeout);
        return false;
      });
      bool empty = it->second.open.empty() && !it->second.connecting;
      it = empty ? st->hosts.erase(it) : std::next(it);
    }
    if (st->hosts.empty()) break;
    st->sweepTimer.expires_at(next);
    boost::system::error_code ignored;
    co_await st->sweepTimer.async_wait(into(ignored));
  }
  st->sweeping = false;
}

}  // namespace meshd::proxy::h2
