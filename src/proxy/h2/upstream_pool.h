#pragma once
// A worker's HTTP/2 connections to upstream hosts, as Envoy's HTTP/2 connection pool: one
// connection carries many requests at once; another is opened only when none to the host can take
// a new stream (the server's SETTINGS_MAX_CONCURRENT_STREAMS reached, a GOAWAY received, the
// connection lost). Requests arriving while a connection is being made wait for it rather than
// each making their own. Connections without a stream for the idle timeout (Envoy's
// common_http_protocol_options.idle_timeout, one hour by default for upstream connections) close
// with a GOAWAY, checked by one lazily re-armed timer per pool: nothing is armed per request. A
// connection that opened its cluster's max_requests_per_connection streams takes no more and
// closes after the last, as Envoy drains it.
// Worker thread only. As Envoy's, pools are per cluster: a cluster's connections count in its own
// stats and never carry another cluster's requests, even to the same address.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/h2/upstream_connection.h"
#include "proxy/stats.h"

namespace meshd::proxy::h2 {

// The cluster's counts that a request and its connections take part in, as Envoy's pool keeps them
// (upstream_cx_active; upstream_rq_pending_active and _total while a request waits for a stream,
// up to max_pending_requests, then upstream_rq_pending_overflow); nothing counted without stats.
struct ClusterCounts {
  std::shared_ptr<ClusterStats> stats;
  std::shared_ptr<HostStats> host;
  uint32_t maxPendingRequests = UINT32_MAX;
};

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;
  using tcp = boost::asio::ip::tcp;
  explicit UpstreamPool(Executor ex);
  // Closes every connection (their open streams fail).
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Starts a request to `host` (see UpstreamConnection::open) on a connection that can take it, or
  // on a new one connected within `connectDeadline` with `settings`. nullptr with `ec` set when the
  // connection could not be made: the connect error, beast::error::timeout, or
  // asio::error::operation_aborted when the pool went away meanwhile; asio::error::invalid_argument
  // when nghttp2 refused the head. `connected`, when given, is set when this call made a connection
  // attempt (for the cluster's upstream_cx_* counters: one per attempt, not per waiting request).
  // A new connection takes `options` (its idle timeout and requests). A request that must wait for
  // a connection is pending in `counts`; past its max_pending_requests it fails at once with
  // asio::error::no_buffer_space (an overflow).
  Task<std::unique_ptr<UpstreamStream>> open(std::string_view cluster, const tcp::endpoint& host,
                                             const Settings& settings, const Headers& head,
                                             bool endStream, Clock::time_point connectDeadline,
                                             boost::system::error_code& ec, bool* connected = nullptr,
                                             const UpstreamOptions& options = {}, ClusterCounts counts = {});

  // Drains the connections of clusters `keep` does not name (removed ones): idle ones close now,
  // busy ones take no new stream and close after their last one.
  void retain(const std::function<bool(std::string_view cluster)>& keep);

  // The cluster's connections to `host` that are open or being made (draining ones included).
  size_t connections(std::string_view cluster, const tcp::endpoint& host) const;

 private:
  struct Connecting;
  struct Host {
    std::vector<std::shared_ptr<UpstreamConnection>> open;
    std::shared_ptr<Connecting> connecting;  // a connection being made, for the requests waiting on it
  };
  // Shared with the pool's coroutines, which may outlive the pool.
  struct State {
    explicit State(Executor ex) : ex(ex), sweepTimer(ex) {}
    Executor ex;
    std::map<std::pair<std::string, tcp::endpoint>, Host> hosts;  // by cluster and endpoint
    Timer sweepTimer;
    bool sweeping = false;
    bool closed = false;
  };

  using Key = std::pair<std::string, tcp::endpoint>;
  static Task<std::unique_ptr<UpstreamStream>> openOn(std::shared_ptr<State> st, Key key,
                                                      Settings settings, UpstreamOptions options,
                                                      ClusterCounts counts, const Headers& head, bool endStream,
                                                      Clock::time_point connectDeadline,
                                                      boost::system::error_code& ec, bool* connected);
  // Closes the connections idle past the timeout and forgets closed ones; runs while there are any.
  static Task<> sweep(std::shared_ptr<State> st);

  std::shared_ptr<State> state_;
};

}  // namespace meshd::proxy::h2
