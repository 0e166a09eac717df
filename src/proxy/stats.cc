#include "proxy/stats.h"

#include <algorithm>

namespace meshd::proxy {

void ResponseCodes::appendTo(StatValues& out, const std::string& stem, unsigned shown) const {
  uint64_t classes[5] = {}, total = 0;
  for (size_t i = 0; i < codes_.size(); ++i) {
    uint64_t n = codes_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    classes[i / 100] += n;
    total += n;
    if (shown & kPerCode) out.emplace_back(stem + "_" + std::to_string(100 + i), n);
  }
  for (int c = 0; c < 5; ++c) {
    if ((shown & kClasses) || classes[c] > 0) out.emplace_back(stem + "_" + std::to_string(c + 1) + "xx", classes[c]);
  }
  if ((shown & kTotal) || total > 0) out.emplace_back(stem + "_completed", total);
}

bool isGauge(std::string_view name) {
  static const char* const kEndings[] = {"_active", "health_check.healthy", "membership_healthy", "membership_total",
                                         "connected_state", "_clusters", "total_listeners_warming", "runtime.num_keys",
                                         "runtime.num_layers", "runtime.admin_overrides_active",
                                         "runtime.deprecated_feature_seen_since_process_start"};
  for (const char* e : kEndings) {
    if (name.ends_with(e)) return true;
  }
  return name.starts_with("server.");
}

// A bound on what waits for the sink: a flush that does not come (a stalled main thread) must not
// grow the workers' memory without end.
constexpr size_t kMaxKept = 100000;

void LatencyHistogram::keep(uint64_t ms) {
  std::lock_guard lock(keptMu_);
  if (kept_.size() < kMaxKept) kept_.push_back(ms);
}

std::vector<uint64_t> LatencyHistogram::takeKept() const {
  std::lock_guard lock(keptMu_);
  return std::exchange(kept_, {});
}

std::array<uint64_t, LatencyHistogram::kBuckets> LatencyHistogram::cumulative() const {
  std::array<uint64_t, kBuckets> out{};
  uint64_t total = 0;
  for (size_t i = 0; i < kBuckets; ++i) out[i] = total += buckets_[i].load(std::memory_order_relaxed);
  return out;
}

StatValues ClusterStats::values() const {
  StatValues out = {{"health_check.attempt", health_check_attempt.load()},
                    {"health_check.failure", health_check_failure.load()},
                    {"health_check.healthy", health_check_healthy.load()},
                    {"health_check.network_failure", health_check_network_failure.load()},
                    {"health_check.success", health_check_success.load()},
                    {"membership_healthy", membership_healthy.load()},
                    {"membership_total", membership_total.load()},
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
                    {"upstream_cx_rx_bytes_total", upstream_cx_rx_bytes_total.load()},
                    {"upstream_cx_tx_bytes_total", upstream_cx_tx_bytes_total.load()},
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
                    {"upstream_rq_per_try_timeout", upstream_rq_per_try_timeout.load()},
                    {"upstream_rq_timeout", upstream_rq_timeout.load()},
                    {"upstream_rq_total", upstream_rq_total.load()},
                    {"update_attempt", update_attempt.load()},
                    {"update_empty", update_empty.load()},
                    {"update_failure", update_failure.load()},
                    {"update_no_rebuild", update_no_rebuild.load()},
                    {"update_success", update_success.load()}};
  if (eds) out.emplace_back("update_rejected", update_rejected.load());
  upstream_rq.appendTo(out, "upstream_rq", ResponseCodes::kTotal | ResponseCodes::kPerCode);
  retry_upstream_rq.appendTo(out, "retry.upstream_rq", ResponseCodes::kPerCode);
  internal_upstream_rq.appendTo(out, "internal.upstream_rq", ResponseCodes::kPerCode);
  external_upstream_rq.appendTo(out, "external.upstream_rq", ResponseCodes::kPerCode);
  return out;
}

StatValues HttpStats::values() const {
  StatValues out = {{"downstream_cx_active", downstream_cx_active.load()},
                    {"downstream_cx_destroy_remote_active_rq", downstream_cx_destroy_remote_active_rq.load()},
                    {"downstream_cx_http1_active", downstream_cx_http1_active.load()},
                    {"downstream_cx_http1_total", downstream_cx_http1_total.load()},
                    {"downstream_cx_http2_active", downstream_cx_http2_active.load()},
                    {"downstream_cx_http2_total", downstream_cx_http2_total.load()},
                    {"downstream_cx_idle_timeout", downstream_cx_idle_timeout.load()},
                    {"downstream_cx_rx_bytes_total", downstream_cx_rx_bytes_total.load()},
                    {"downstream_cx_total", downstream_cx_total.load()},
                    {"downstream_cx_tx_bytes_total", downstream_cx_tx_bytes_total.load()},
                    {"downstream_rq_active", downstream_rq_active.load()},
                    {"downstream_rq_http1_total", downstream_rq_http1_total.load()},
                    {"downstream_rq_http2_total", downstream_rq_http2_total.load()},
                    {"downstream_rq_idle_timeout", downstream_rq_idle_timeout.load()},
                    {"downstream_rq_rx_reset", downstream_rq_rx_reset.load()},
                    {"downstream_rq_total", downstream_rq_total.load()},
                    {"downstream_rq_ws_on_non_ws_route", downstream_rq_ws_on_non_ws_route.load()},
                    {"no_route", no_route.load()}};
  downstream_rq.appendTo(out, "downstream_rq", ResponseCodes::kTotal | ResponseCodes::kClasses);
  return out;
}

StatValues HostStats::values() const {
  return {{"cx_active", cx_active.load()},   {"cx_connect_fail", cx_connect_fail.load()},
          {"cx_total", cx_total.load()},     {"rq_active", rq_active.load()},
          {"rq_error", rq_error.load()},     {"rq_success", rq_success.load()},
          {"rq_timeout", rq_timeout.load()}, {"rq_total", rq_total.load()}};
}

XdsStats::Subscription* XdsStats::of(std::string_view typeUrl) {
  if (typeUrl.ends_with(".Cluster")) return &cds;
  if (typeUrl.ends_with(".Listener")) return &lds;
  return nullptr;
}

StatValues XdsStats::values() const {
  StatValues out = {{"control_plane.connected_state", connected_state.load()}};
  for (auto [prefix, s] : {std::pair{"cluster_manager.cds.", &cds}, std::pair{"listener_manager.lds.", &lds}}) {
    out.emplace_back(std::string(prefix) + "update_attempt", s->update_attempt.load());
    out.emplace_back(std::string(prefix) + "update_failure", s->update_failure.load());
    out.emplace_back(std::string(prefix) + "update_rejected", s->update_rejected.load());
    out.emplace_back(std::string(prefix) + "update_success", s->update_success.load());
  }
  return out;
}

StatValues RuntimeStats::values() const {
  return {{"runtime.admin_overrides_active", admin_overrides_active.load()},
          {"runtime.deprecated_feature_seen_since_process_start", deprecated_feature_seen_since_process_start.load()},
          {"runtime.deprecated_feature_use", deprecated_feature_use.load()},
          {"runtime.load_error", load_error.load()},
          {"runtime.load_success", load_success.load()},
          {"runtime.num_keys", num_keys.load()},
          {"runtime.num_layers", num_layers.load()},
          {"runtime.override_dir_exists", override_dir_exists.load()},
          {"runtime.override_dir_not_exists", override_dir_not_exists.load()}};
}

StatValues TcpStats::values() const {
  return {{"downstream_cx_no_route", downstream_cx_no_route.load()},
          {"downstream_cx_rx_bytes_total", downstream_cx_rx_bytes_total.load()},
          {"downstream_cx_total", downstream_cx_total.load()},
          {"downstream_cx_tx_bytes_total", downstream_cx_tx_bytes_total.load()},
          {"idle_timeout", idle_timeout.load()}};
}

StatValues ListenerStats::values() const {
  return {{"downstream_cx_active", downstream_cx_active.load()},
          {"downstream_cx_destroy", downstream_cx_destroy.load()},
          {"downstream_cx_total", downstream_cx_total.load()},
          {"downstream_pre_cx_active", downstream_pre_cx_active.load()},
          {"downstream_pre_cx_timeout", downstream_pre_cx_timeout.load()},
          {"no_filter_chain_match", no_filter_chain_match.load()}};
}

std::shared_ptr<ListenerStats> StatsRegistry::listener(const std::string& prefix) {
  auto& s = listeners_[prefix];
  if (!s) s = std::make_shared<ListenerStats>();
  return s;
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

std::vector<StatsRegistry::NamedHistogram> StatsRegistry::histograms() const {
  std::vector<NamedHistogram> out;
  for (const auto& [name, s] : clusters_) {
    out.push_back({"cluster." + name + ".upstream_rq_time", &s->upstream_rq_time});
  }
  for (const auto& [prefix, s] : http_) {
    out.push_back({"http." + prefix + ".downstream_rq_time", &s->downstream_rq_time});
  }
  for (const auto& [prefix, s] : listeners_) {
    out.push_back({"listener." + prefix + ".downstream_cx_length_ms", &s->downstream_cx_length_ms});
  }
  return out;
}

std::shared_ptr<TcpStats> StatsRegistry::tcp(const std::string& prefix) {
  auto& s = tcp_[prefix];
  if (!s) s = std::make_shared<TcpStats>();
  return s;
}

std::vector<std::pair<std::string, uint64_t>> StatsRegistry::all() const {
  StatValues out = raw();
  if (zeroAt_.empty()) return out;
  for (auto& [name, value] : out) {
    auto it = zeroAt_.find(name);
    if (it != zeroAt_.end()) value -= std::min(value, it->second);
  }
  return out;
}

void StatsRegistry::resetCounters() {
  zeroAt_.clear();
  for (auto& [name, value] : raw()) {
    if (!isGauge(name)) zeroAt_.emplace(std::move(name), value);
  }
}

StatValues StatsRegistry::raw() const {
  StatValues out;
  for (const auto& [name, s] : clusters_) {
    for (auto& [k, v] : s->values()) out.emplace_back("cluster." + name + "." + k, v);
  }
  for (const auto& [prefix, s] : http_) {
    for (auto& [k, v] : s->values()) out.emplace_back("http." + prefix + "." + k, v);
  }
  for (auto& kv : xds.values()) out.push_back(std::move(kv));
  for (auto& kv : runtime.values()) out.push_back(std::move(kv));
  for (const auto& [prefix, s] : listeners_) {
    for (auto& [k, v] : s->values()) out.emplace_back("listener." + prefix + "." + k, v);
  }
  for (const auto& [prefix, s] : tcp_) {
    for (auto& [k, v] : s->values()) out.emplace_back("tcp." + prefix + "." + k, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meshd::proxy
