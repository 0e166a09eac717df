#pragma once
// Counters with Envoy's names. Counters are atomics: incremented by any worker without locks; the
// registry (name -> counters) belongs to the main thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/sharded_counter.h"

namespace meshd::proxy {

using StatValues = std::vector<std::pair<std::string, uint64_t>>;

// Whether the stat `name` (cluster.c.upstream_cx_active) is one of Envoy's gauges: what is open, in
// flight, healthy, serving or warming now, and the server's and the control plane's state. The
// rest are counters.
bool isGauge(std::string_view name);

// Responses by status code, as Envoy's code stats count them: `<stem>_<code>`, `<stem>_<n>xx` and
// `<stem>_completed`. The classes and the total are sums, so a response costs one atomic add.
class ResponseCodes {
 public:
  void charge(unsigned code) {
    if (code >= 100 && code < 600) codes_[code - 100].fetch_add(1, std::memory_order_relaxed);
  }
  // Which counters exist before their first count (Envoy creates some up front) and whether each
  // code has its own.
  enum Shown : unsigned { kCounted = 0, kTotal = 1, kClasses = 2, kPerCode = 4 };
  void appendTo(StatValues& out, const std::string& stem, unsigned shown) const;

 private:
  std::array<std::atomic<uint64_t>, 500> codes_{};
};

// A duration histogram as Envoy's (whole milliseconds, its default bucket bounds for Prometheus):
// each record is one atomic add to its bucket and one to the sum.
class LatencyHistogram {
 public:
  static constexpr double kBounds[] = {0.5,  1,    5,     10,    25,     50,     100,     250,     500,    1000,
                                       2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  static constexpr size_t kBuckets = std::size(kBounds) + 1;  // and +Inf

  void record(std::chrono::milliseconds d) {
    uint64_t ms = d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());
    size_t i = 0;
    while (i < std::size(kBounds) && static_cast<double>(ms) > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ms, std::memory_order_relaxed);
    if (tapped_.load(std::memory_order_relaxed)) keep(ms);
  }
  // While on, every value recorded is also kept until takeKept(): a statsd sink sends each one, as
  // Envoy's. Off (no sink), recording costs one relaxed load more.
  static void tap(bool on) { tapped_.store(on, std::memory_order_relaxed); }
  std::vector<uint64_t> takeKept() const;
  // Counts at or below each bound (the last: all of them), and the sum in milliseconds.
  std::array<uint64_t, kBuckets> cumulative() const;
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  void keep(uint64_t ms);

  static inline std::atomic<bool> tapped_{false};
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
  mutable std::mutex keptMu_;  // workers record, the main thread takes
  mutable std::vector<uint64_t> kept_;
};

struct ClusterStats {
  std::atomic<uint64_t> upstream_cx_total{0};
  std::atomic<uint64_t> upstream_cx_http1_total{0};
  std::atomic<uint64_t> upstream_cx_http2_total{0};
  std::atomic<uint64_t> upstream_cx_connect_fail{0};
  std::atomic<uint64_t> upstream_cx_connect_timeout{0};
  std::atomic<uint64_t> upstream_rq_total{0};
  std::atomic<uint64_t> upstream_rq_timeout{0};          // the route's timeout
  std::atomic<uint64_t> upstream_rq_per_try_timeout{0};  // each try's, retried or not
  std::atomic<uint64_t> upstream_rq_retry{0};
  std::atomic<uint64_t> upstream_rq_retry_limit_exceeded{0};  // would have retried, none left
  std::atomic<uint64_t> upstream_rq_retry_success{0};         // retried, and the last try needs none
  std::atomic<uint64_t> upstream_rq_retry_overflow{0};        // max_retries refused a retry
  std::atomic<uint64_t> upstream_rq_retry_active{0};          // retries under way (not a stat)
  std::atomic<uint64_t> upstream_cx_none_healthy{0};
  std::atomic<uint64_t> health_check_attempt{0};
  std::atomic<uint64_t> health_check_success{0};
  std::atomic<uint64_t> health_check_failure{0};
  std::atomic<uint64_t> health_check_network_failure{0};  // no answer: connect failure or timeout
  std::atomic<uint64_t> health_check_healthy{0};  // a gauge in Envoy: hosts healthy now
  std::atomic<uint64_t> membership_healthy{0};    // gauges: the hosts healthy now, and all of them
  std::atomic<uint64_t> membership_total{0};
  std::atomic<uint64_t> upstream_rq_active{0};    // a gauge: requests in flight (circuit breaking)
  std::atomic<uint64_t> upstream_rq_pending_overflow{0};
  // Circuit breaking of HTTP/1.1 and TCP connections (upstream_pool.h).
  std::atomic<uint64_t> upstream_cx_active{0};          // a gauge: connections open
  std::atomic<uint64_t> upstream_cx_overflow{0};
  std::atomic<uint64_t> upstream_rq_pending_active{0};  // a gauge: requests waiting for a connection
  std::atomic<uint64_t> upstream_rq_pending_total{0};
  // Connections closed by their cluster's common_http_protocol_options (upstream_options.h).
  std::atomic<uint64_t> upstream_cx_idle_timeout{0};
  std::atomic<uint64_t> upstream_cx_max_requests{0};
  // outlier_detection.* (outlier_detector.h); ejections_active is a gauge.
  std::atomic<uint64_t> outlier_ejections_active{0};
  std::atomic<uint64_t> outlier_ejections_overflow{0};
  std::atomic<uint64_t> outlier_ejections_enforced_total{0};
  std::atomic<uint64_t> outlier_ejections_detected_consecutive_5xx{0};
  std::atomic<uint64_t> outlier_ejections_enforced_consecutive_5xx{0};
  std::atomic<uint64_t> outlier_ejections_detected_consecutive_gateway_failure{0};
  std::atomic<uint64_t> outlier_ejections_enforced_consecutive_gateway_failure{0};
  std::atomic<uint64_t> outlier_ejections_detected_success_rate{0};
  std::atomic<uint64_t> outlier_ejections_enforced_success_rate{0};
  std::atomic<uint64_t> outlier_ejections_detected_failure_percentage{0};
  std::atomic<uint64_t> outlier_ejections_enforced_failure_percentage{0};
  // Not stats: the last interval's success rate mean and ejection threshold, -1 when it had too few
  // hosts with enough requests (what /clusters shows as outlier::success_rate_*).
  std::atomic<double> outlier_success_rate_average{-1};
  std::atomic<double> outlier_success_rate_ejection_threshold{-1};
  // Membership updates by service discovery (Envoy's ALL_CLUSTER_STATS): a DNS cluster's each
  // resolution, an EDS cluster's each assignment received; update_no_rebuild when the hosts stayed
  // as they were. update_rejected, a NACKed assignment, exists for EDS clusters only (their
  // subscription's), as `eds` says.
  std::atomic<uint64_t> update_attempt{0};
  std::atomic<uint64_t> update_success{0};
  std::atomic<uint64_t> update_failure{0};
  std::atomic<uint64_t> update_empty{0};
  std::atomic<uint64_t> update_no_rebuild{0};
  std::atomic<uint64_t> update_rejected{0};
  std::atomic<bool> eds{false};
  // The router's: each request's final response or local failure (503, 504), and under retry.* the
  // responses it retried.
  ResponseCodes upstream_rq;
  ResponseCodes internal_upstream_rq;  // the same by the request's kind (internal_request.h)
  ResponseCodes external_upstream_rq;
  ResponseCodes retry_upstream_rq;
  // From the request's end to the response's, for each response relayed whole.
  LatencyHistogram upstream_rq_time;
  // What its connections read and wrote (HTTP/1.1, HTTP/2 and TCP proxy alike).
  ShardedCounter upstream_cx_rx_bytes_total;
  ShardedCounter upstream_cx_tx_bytes_total;

  // (stat suffix, value) in Envoy's naming, e.g. ("upstream_cx_connect_fail", 3).
  StatValues values() const;
};

// One host's counters, as Envoy's /clusters lists them; every worker counts (least request
// balancing reads rq_active).
struct HostStats {
  std::atomic<uint64_t> cx_active{0};  // a gauge
  std::atomic<uint64_t> cx_connect_fail{0};
  std::atomic<uint64_t> cx_total{0};
  std::atomic<uint64_t> rq_active{0};  // a gauge
  std::atomic<uint64_t> rq_error{0};   // answered 5xx or failed
  std::atomic<uint64_t> rq_success{0};
  std::atomic<uint64_t> rq_timeout{0};
  std::atomic<uint64_t> rq_total{0};
  StatValues values() const;
};

// An upstream connection's place in the upstream_cx_active gauges of its cluster and its host
// (either may be absent), from its connect to its close. Header-only: the connection pools
// (proxy_io) use it without the rest of the stats.
class ActiveConnection {
 public:
  ActiveConnection() = default;
  ActiveConnection(std::shared_ptr<ClusterStats> cluster, std::shared_ptr<HostStats> host)
      : cluster_(std::move(cluster)), host_(std::move(host)) {
    if (cluster_) cluster_->upstream_cx_active++;
    if (host_) host_->cx_active++;
  }
  ActiveConnection(ActiveConnection&& o) noexcept = default;
  ActiveConnection& operator=(ActiveConnection&& o) noexcept {
    end();
    cluster_ = std::move(o.cluster_);
    host_ = std::move(o.host_);
    return *this;
  }
  ~ActiveConnection() { end(); }
  void end() {
    if (cluster_) cluster_->upstream_cx_active--;
    if (host_) host_->cx_active--;
    cluster_.reset();
    host_.reset();
  }
  ClusterStats* cluster() const { return cluster_.get(); }
  const std::shared_ptr<ClusterStats>& clusterStats() const { return cluster_; }

 private:
  std::shared_ptr<ClusterStats> cluster_;
  std::shared_ptr<HostStats> host_;
};

// One unit of a gauge (an ..._active stat) for as long as it lives.
class GaugeHold {
 public:
  explicit GaugeHold(std::atomic<uint64_t>& g) : g_(&g) { g_->fetch_add(1, std::memory_order_relaxed); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;
  ~GaugeHold() { g_->fetch_sub(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t>* g_;
};

// Per-listener-prefix HTTP connection manager counters (http.<stat_prefix>.*).
struct HttpStats {
  std::atomic<uint64_t> downstream_rq_total{0};
  std::atomic<uint64_t> downstream_rq_http1_total{0};
  std::atomic<uint64_t> downstream_rq_http2_total{0};
  std::atomic<uint64_t> downstream_rq_active{0};  // gauges: requests and connections open now
  std::atomic<uint64_t> downstream_cx_active{0};
  std::atomic<uint64_t> downstream_cx_http1_total{0};  // by the codec the connection turned out to speak
  std::atomic<uint64_t> downstream_cx_http1_active{0};
  std::atomic<uint64_t> downstream_cx_http2_total{0};
  std::atomic<uint64_t> downstream_cx_http2_active{0};
  std::atomic<uint64_t> downstream_rq_idle_timeout{0};
  std::atomic<uint64_t> downstream_cx_total{0};
  std::atomic<uint64_t> downstream_cx_idle_timeout{0};
  std::atomic<uint64_t> downstream_cx_destroy_remote_active_rq{0};  // the client closed with a request under way
  std::atomic<uint64_t> downstream_rq_rx_reset{0};  // a request's stream reset: by the client, its connection's end, or us
  std::atomic<uint64_t> no_route{0};
  std::atomic<uint64_t> downstream_rq_ws_on_non_ws_route{0};
  ResponseCodes downstream_rq;  // every response the connection manager sent, local replies too
  LatencyHistogram downstream_rq_time;  // from the request's head to the response's end
  ShardedCounter downstream_cx_rx_bytes_total;  // what its connections read and wrote
  ShardedCounter downstream_cx_tx_bytes_total;
  StatValues values() const;
};

// A listener's counters (listener.<address>.*, or its stat_prefix): the connections a filter chain
// took, open now, closed and how long they lasted; those in the listener filters; those no filter
// chain matched.
struct ListenerStats {
  std::atomic<uint64_t> downstream_cx_total{0};
  std::atomic<uint64_t> downstream_cx_active{0};  // a gauge
  std::atomic<uint64_t> downstream_cx_destroy{0};
  std::atomic<uint64_t> downstream_pre_cx_active{0};  // a gauge: in the listener filters now
  std::atomic<uint64_t> downstream_pre_cx_timeout{0};
  std::atomic<uint64_t> no_filter_chain_match{0};
  LatencyHistogram downstream_cx_length_ms;
  StatValues values() const;
};

// A downstream connection's place in its listener's stats, from the choice of its filter chain to
// its close (the owner's end or destruction).
class ListenerConnection {
 public:
  ListenerConnection() = default;
  explicit ListenerConnection(std::shared_ptr<ListenerStats> stats)
      : stats_(std::move(stats)), since_(std::chrono::steady_clock::now()) {
    if (!stats_) return;
    stats_->downstream_cx_total.fetch_add(1, std::memory_order_relaxed);
    stats_->downstream_cx_active.fetch_add(1, std::memory_order_relaxed);
  }
  ListenerConnection(ListenerConnection&& o) noexcept = default;
  ListenerConnection& operator=(ListenerConnection&& o) noexcept {
    end();
    stats_ = std::move(o.stats_);
    since_ = o.since_;
    return *this;
  }
  ~ListenerConnection() { end(); }
  void end() {
    if (!stats_) return;
    stats_->downstream_cx_active.fetch_sub(1, std::memory_order_relaxed);
    stats_->downstream_cx_destroy.fetch_add(1, std::memory_order_relaxed);
    stats_->downstream_cx_length_ms.record(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since_));
    stats_.reset();
  }

 private:
  std::shared_ptr<ListenerStats> stats_;
  std::chrono::steady_clock::time_point since_;
};

// Per-prefix TCP proxy counters (tcp.<stat_prefix>.*).
struct TcpStats {
  std::atomic<uint64_t> downstream_cx_total{0};
  std::atomic<uint64_t> downstream_cx_no_route{0};       // its cluster is not there
  ShardedCounter downstream_cx_rx_bytes_total;  // from the client, as sent on
  ShardedCounter downstream_cx_tx_bytes_total;  // to the client
  std::atomic<uint64_t> idle_timeout{0};
  StatValues values() const;
};

// The ADS stream's counters: per subscription (cluster_manager.cds.*, listener_manager.lds.*) and
// control_plane.connected_state. Counted by the xDS client's thread and the main thread.
struct XdsStats {
  struct Subscription {
    std::atomic<uint64_t> update_attempt{0};
    std::atomic<uint64_t> update_success{0};
    std::atomic<uint64_t> update_rejected{0};  // NACKed
    std::atomic<uint64_t> update_failure{0};   // the stream failed or could not be opened
  };
  Subscription cds, lds;
  std::atomic<uint64_t> connected_state{0};  // a gauge: 1 while the stream is up
  // The subscription of a resource type, or null for one without these counters.
  Subscription* of(std::string_view typeUrl);
  StatValues values() const;
};

// Envoy's runtime.* stats (runtime.h). Main thread.
struct RuntimeStats {
  std::atomic<uint64_t> load_success{0};
  std::atomic<uint64_t> load_error{0};
  std::atomic<uint64_t> override_dir_exists{0};
  std::atomic<uint64_t> override_dir_not_exists{0};
  std::atomic<uint64_t> deprecated_feature_use{0};
  std::atomic<uint64_t> num_keys{0};                // gauges from here
  std::atomic<uint64_t> num_layers{0};
  std::atomic<uint64_t> admin_overrides_active{0};
  std::atomic<uint64_t> deprecated_feature_seen_since_process_start{0};
  StatValues values() const;
};

// Main thread only.
class StatsRegistry {
 public:
  std::shared_ptr<ClusterStats> cluster(const std::string& name);
  std::shared_ptr<HttpStats> http(const std::string& prefix);
  std::shared_ptr<TcpStats> tcp(const std::string& prefix);
  std::shared_ptr<ListenerStats> listener(const std::string& prefix);
  // Every counter as (full Envoy name, value), sorted by name.
  std::vector<std::pair<std::string, uint64_t>> all() const;
  // Every histogram with its full Envoy name, e.g. cluster.c.upstream_rq_time.
  struct NamedHistogram {
    std::string name;
    const LatencyHistogram* histogram;
  };
  std::vector<NamedHistogram> histograms() const;
  // POST /reset_counters, as Envoy's: every counter reads 0 from here on; gauges and histograms
  // stay. The counters are the workers' lock-free atomics, which the request path only adds to, so
  // the registry keeps what each said at the reset and all() subtracts it.
  void resetCounters();
  // Every counter as all() has it, but counted from the start: never less than before.
  StatValues raw() const;
  XdsStats xds;
  RuntimeStats runtime;

 private:

  std::map<std::string, uint64_t, std::less<>> zeroAt_;  // a counter's value at the last reset
  std::map<std::string, std::shared_ptr<ClusterStats>> clusters_;
  std::map<std::string, std::shared_ptr<HttpStats>> http_;
  std::map<std::string, std::shared_ptr<TcpStats>> tcp_;
  std::map<std::string, std::shared_ptr<ListenerStats>> listeners_;
};

}  // namespace meshd::proxy
