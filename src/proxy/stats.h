#pragma once
// Counters with Envoy's names. Counters are atomics: incremented by any worker without locks; the
// registry (name -> counters) belongs to the main thread.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace meshd::proxy {

struct ClusterStats {
  std::atomic<uint64_t> upstream_cx_total{0};
  std::atomic<uint64_t> upstream_cx_http1_total{0};
  std::atomic<uint64_t> upstream_cx_http2_total{0};
  std::atomic<uint64_t> upstream_cx_connect_fail{0};
  std::atomic<uint64_t> upstream_cx_connect_timeout{0};
  std::atomic<uint64_t> upstream_rq_total{0};
  std::atomic<uint64_t> upstream_rq_timeout{0};
  std::atomic<uint64_t> upstream_rq_retry{0};
  std::atomic<uint64_t> upstream_rq_retry_limit_exceeded{0};  // would have retried, none left
  std::atomic<uint64_t> upstream_rq_retry_success{0};         // retried, and the last try needs none
  std::atomic<uint64_t> upstream_rq_retry_overflow{0};        // max_retries refused a retry
  std::atomic<uint64_t> upstream_rq_retry_active{0};          // retries under way (not a stat)
  std::atomic<uint64_t> upstream_cx_none_healthy{0};
  std::atomic<uint64_t> health_check_attempt{0};
  std::atomic<uint64_t> health_check_success{0};
  std::atomic<uint64_t> health_check_failure{0};
  std::atomic<uint64_t> health_check_healthy{0};  // a gauge in Envoy: hosts healthy now
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

  // (stat suffix, value) in Envoy's naming, e.g. ("upstream_cx_connect_fail", 3).
  std::vector<std::pair<std::string, uint64_t>> values() const;
};

// Per-listener-prefix HTTP connection manager counters (http.<stat_prefix>.*).
struct HttpStats {
  std::atomic<uint64_t> downstream_rq_total{0};
  std::atomic<uint64_t> downstream_rq_idle_timeout{0};
  std::atomic<uint64_t> downstream_cx_total{0};
  std::atomic<uint64_t> downstream_cx_idle_timeout{0};
  std::atomic<uint64_t> no_route{0};
  std::atomic<uint64_t> downstream_rq_ws_on_non_ws_route{0};
  std::vector<std::pair<std::string, uint64_t>> values() const;
};

// Main thread only.
class StatsRegistry {
 public:
  std::shared_ptr<ClusterStats> cluster(const std::string& name);
  std::shared_ptr<HttpStats> http(const std::string& prefix);
  // Every counter as (full Envoy name, value), sorted by name.
  std::vector<std::pair<std::string, uint64_t>> all() const;

 private:
  std::map<std::string, std::shared_ptr<ClusterStats>> clusters_;
  std::map<std::string, std::shared_ptr<HttpStats>> http_;
};

}  // namespace meshd::proxy
