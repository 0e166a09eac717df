#include "proxy/stats.h"

#include <algorithm>

namespace meshd::proxy {

std::vector<std::pair<std::string, uint64_t>> ClusterStats::values() const {
  return {{"health_check.attempt", health_check_attempt.load()},
          {"health_check.failure", health_check_failure.load()},
          {"health_check.healthy", health_check_healthy.load()},
          {"health_check.success", health_check_success.load()},
          {"upstream_cx_active", upstream_cx_active.load()},
          {"upstream_cx_connect_fail", upstream_cx_connect_fail.load()},
          {"upstream_cx_connect_timeout", upstream_cx_connect_timeout.load()},
          {"upstream_cx_none_healthy", upstream_cx_none_healthy.load()},
          {"upstream_cx_overflow", upstream_cx_overflow.load()},
          {"upstream_cx_idle_timeout", upstream_cx_idle_timeout.load()},
          {"upstream_cx_max_requests", upstream_cx_max_requests.load()},
          {"outlier_detection.ejections_active", outlier_ejections_active.load()},
          {"outlier_detection.ejections_overflow", outlier_ejections_overflow.load()},
          {"outlier_detection.ejections_enforced_total", outlier_ejections_enforced_total.load()},
          {"outlier_detection.ejections_detected_consecutive_5xx", outlier_ejections_detected_consecutive_5xx.load()},
          {"outlier_detection.ejections_enforced_consecutive_5xx", outlier_ejections_enforced_consecutive_5xx.load()},
          {"outlier_detection.ejections_detected_consecutive_gateway_failure",
           outlier_ejections_detected_consecutive_gateway_failure.load()},
          {"outlier_detection.ejections_enforced_consecutive_gateway_failure",
           outlier_ejections_enforced_consecutive_gateway_failure.load()},
          {"outlier_detection.ejections_detected_success_rate", outlier_ejections_detected_success_rate.load()},
          {"outlier_detection.ejections_enforced_success_rate", outlier_ejections_enforced_success_rate.load()},
          {"outlier_detection.ejections_detected_failure_percentage", outlier_ejections_detected_failure_percentage.load()},
          {"outlier_detection.ejections_enforced_failure_percentage", outlier_ejections_enforced_failure_percentage.load()},
          {"upstream_cx_total", upstream_cx_total.load()},
          {"upstream_cx_http1_total", upstream_cx_http1_total.load()},
          {"upstream_cx_http2_total", upstream_cx_http2_total.load()},
          {"upstream_rq_active", upstream_rq_active.load()},
          {"upstream_rq_pending_active", upstream_rq_pending_active.load()},
          {"upstream_rq_pending_overflow", upstream_rq_pending_overflow.load()},
          {"upstream_rq_pending_total", upstream_rq_pending_total.load()},
          {"upstream_rq_retry", upstream_rq_retry.load()},
          {"upstream_rq_retry_limit_exceeded", upstream_rq_retry_limit_exceeded.load()},
          {"upstream_rq_retry_overflow", upstream_rq_retry_overflow.load()},
          {"upstream_rq_retry_success", upstream_rq_retry_success.load()},
          {"upstream_rq_timeout", upstream_rq_timeout.load()},
          {"upstream_rq_total", upstream_rq_total.load()}};
}

std::vector<std::pair<std::string, uint64_t>> HttpStats::values() const {
  return {{"downstream_cx_idle_timeout", downstream_cx_idle_timeout.load()},
          {"downstream_cx_total", downstream_cx_total.load()},
          {"downstream_rq_idle_timeout", downstream_rq_idle_timeout.load()},
          {"downstream_rq_total", downstream_rq_total.load()},
          {"downstream_rq_ws_on_non_ws_route", downstream_rq_ws_on_non_ws_route.load()},
          {"no_route", no_route.load()}};
}

std::shared_ptr<ClusterStats> StatsRegistry::cluster(const std::string& name) {
  auto& s = clusters_[name];
  if (!s) s = std::make_shared<ClusterStats>();
  return s;
}

std::shared_ptr<HttpStats> StatsRegistry::http(const std::string& prefix) {
  auto& s = http_[prefix];
  if (!s) s = std::make_shared<HttpStats>();
  return s;
}

std::vector<std::pair<std::string, uint64_t>> StatsRegistry::all() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [name, s] : clusters_) {
    for (auto& [k, v] : s->values()) out.emplace_back("cluster." + name + "." + k, v);
  }
  for (const auto& [prefix, s] : http_) {
    for (auto& [k, v] : s->values()) out.emplace_back("http." + prefix + "." + k, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meshd::proxy
