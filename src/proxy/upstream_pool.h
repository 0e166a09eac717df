#pragma once
// A worker's HTTP/1.1 connections to upstream hosts, per cluster and host as Envoy's pools are: a
// cluster's connections count in its own stats and never serve another cluster that happens to name
// the same address.
//
// Reuse: an idle keep-alive connection is taken again if it has been idle less than its cluster's
// idle_timeout and, once idle for kPeekAfter or more, the peer has not closed it or sent anything
// since (a non-blocking peek; a connection given back moments ago skips that system call, and a
// peer that closed it meanwhile anyway shows as a reset before any response, which exchange()
// retries on a new one). A connection that has carried its cluster's max_requests_per_connection
// closes when given back. While there are idle connections, a sweep every kSweepEvery closes those
// the peer closed (Envoy reads every connection and notices at once; a closed one would otherwise
// count in upstream_cx_active until taken) and those idle past the timeout: one timer per pool,
// nothing armed per request.
//
// Circuit breaking, as Envoy's connection pool: a request that finds no idle connection is pending
// until it has one, and overflows if max_pending_requests requests of its cluster already are. A
// pending request opens a connection while its cluster has fewer than max_connections open (or this
// worker has none to that host: as in Envoy, such a request would otherwise wait for nothing);
// otherwise it waits, in order, for one of this worker's connections to that host to be given back
// (it takes it) or to close (it may open one). The counts are the cluster's atomics, shared by all
// workers without a lock; the waiting lists are the worker's own.
// Worker thread only.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/circuit_breakers.h"
#include "proxy/stats.h"
#include "proxy/timed_stream.h"
#include "proxy/upstream_options.h"

namespace meshd::proxy {

class UpstreamPool {
  struct HostConnections;

 public:
  // A connection's place in its cluster's and its host's counts (upstream_cx_active, which
  // max_connections bounds) and in its worker's count for its host; all drop when it closes, which
  // wakes a waiting request.
  class Slot {
   public:
    Slot() = default;
    Slot(ActiveConnection active, std::shared_ptr<HostConnections> host);
    Slot(Slot&& o) noexcept = default;
    Slot& operator=(Slot&& o) noexcept;
    ~Slot() { free(); }
    ClusterStats* cluster() const { return active_.cluster(); }

   private:
    void free();
    ActiveConnection active_;
    std::shared_ptr<HostConnections> host_;
  };

  // An upstream connection: its stream and its slot, which it frees as it closes.
  class Connection : public TimedStream {
   public:
    Connection(Socket socket, Slot slot, UpstreamOptions options)
        : TimedStream(std::move(socket)), slot_(std::move(slot)), options_(options) {}
    explicit Connection(Socket socket) : TimedStream(std::move(socket)) {}
    const UpstreamOptions& options() const { return options_; }
    ClusterStats* stats() const { return slot_.cluster(); }
    // One more request done on it: true when that was the last it may carry.
    bool carriedLast() { return ++requests_ == options_.maxRequestsPerConnection; }

   private:
    Slot slot_;
    UpstreamOptions options_;
    uint32_t requests_ = 0;
  };
  // Streams, not bare sockets: a Beast stream made per request (its state and timer) cost as much as
  // a header's parsing.
  using Stream = std::unique_ptr<Connection>;

  // Held by a request from the moment it found no idle connection until it has one: it counts in
  // the cluster's upstream_rq_pending_active meanwhile.
  class Pending {
   public:
    Pending() = default;
    explicit Pending(std::shared_ptr<ClusterStats> cluster);
    Pending(Pending&&) noexcept = default;
    Pending& operator=(Pending&& o) noexcept {
      end();
      cluster_ = std::move(o.cluster_);
      return *this;
    }
    ~Pending() { end(); }
    void end();

   private:
    std::shared_ptr<ClusterStats> cluster_;
  };

  // Ends a request's wait in acquire() early, when its client went: the request leaves the queue
  // (and upstream_rq_pending_active) at once instead of at its deadline or its turn.
  class WaitCancel {
   public:
    void cancel() {
      cancelled_ = true;
      if (timer_) timer_->cancel();
    }
    bool cancelled() const { return cancelled_; }

   private:
    friend class UpstreamPool;
    Timer* timer_ = nullptr;  // while the request waits
    bool cancelled_ = false;
  };

  // What acquire() found: an idle connection (kReused) or one given back to a waiting request
  // (kHandedOver); leave to open one (kConnect, with its slot: count it, and stay pending until
  // connected); the cluster's pending requests are at max_pending_requests (kOverflow); the
  // request waited until `deadline` (kTimeout); or its WaitCancel was cancelled (kCancelled).
  struct Acquired {
    enum Kind { kReused, kHandedOver, kConnect, kOverflow, kTimeout, kCancelled };
    Kind kind = kConnect;
    Stream stream;
    Slot slot;
    Pending pending;
  };
  Task<Acquired> acquire(std::string_view cluster, const std::shared_ptr<ClusterStats>& stats,
                         const std::shared_ptr<HostStats>& hostStats,
                         const CircuitBreakers& limits, const boost::asio::ip::tcp::endpoint& host,
                         std::chrono::steady_clock::time_point deadline, WaitCancel* cancel = nullptr);

  // An idle connection, or nullptr when there is no usable one.
  Stream take(std::string_view cluster, const boost::asio::ip::tcp::endpoint& host);
  // A connection whose exchange ended with it reusable: to the first request waiting for one, else idle.
  void give(std::string_view cluster, const boost::asio::ip::tcp::endpoint& host, Stream s);
  // Closes the idle connections of clusters that `keep` does not name (removed ones). A busy one of
  // theirs closes when it is given back: give() asks `keep` about a cluster it holds nothing for.
  void retain(std::function<bool(std::string_view cluster)> keep);

  UpstreamPool() = default;
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  static constexpr size_t kMaxIdlePerHost = 64;
  static constexpr std::chrono::milliseconds kPeekAfter{100};
  static constexpr std::chrono::seconds kSweepEvery{1};

 private:
  struct Idle {
    Stream stream;
    std::chrono::steady_clock::time_point since;
  };
  struct Waiter;
  // This worker's connections to one host of one cluster: how many are open (idle, busy or
  // connecting), the idle ones, and the requests waiting for one (a Waiter keeps itself listed).
  struct HostConnections {
    size_t open = 0;
    std::vector<Idle> idle;
    std::deque<Waiter*> waiters;
    bool unused() const { return open == 0 && idle.empty() && waiters.empty(); }
  };
  using Hosts = std::map<boost::asio::ip::tcp::endpoint, std::shared_ptr<HostConnections>>;
  std::shared_ptr<HostConnections>& host(std::string_view cluster, const boost::asio::ip::tcp::endpoint& host);
  // An idle stream's slot holds its host's record, which holds the stream: this breaks the cycle.
  static void closeIdle(Hosts& hosts);
  // Whether an idle connection may still be used, `now`; counts upstream_cx_idle_timeout when not.
  static bool usable(const Idle& idle, std::chrono::steady_clock::time_point now);
  // Closes the idle connections no longer usable; false when none is left idle.
  bool sweepOnce();
  struct Sweeper;
  static Task<> sweep(UpstreamPool* pool, std::shared_ptr<Sweeper> sweeper);

  std::map<std::string, Hosts, std::less<>> hosts_;  // by cluster: looked up without a copy of its name
  std::function<bool(std::string_view cluster)> keep_;
  std::shared_ptr<Sweeper> sweeper_;  // while there are idle connections
};

}  // namespace meshd::proxy
