#include "proxy/outlier_detector.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "proxy/loggers.h"

namespace meshd::proxy {

using envoy::config::cluster::v3::OutlierDetection;

uint32_t countForOutlierDetection(const ClusterView& c, const Host& h, uint32_t status) {
  if (!c.outlierDetection || !h.outlier || status == 0) return 0;
  HostOutlierState& s = *h.outlier;
  s.requests.fetch_add(1, std::memory_order_relaxed);
  if (status < 500) {
    s.successes.fetch_add(1, std::memory_order_relaxed);
    s.consecutive5xx.store(0, std::memory_order_relaxed);
    s.consecutiveGatewayFailure.store(0, std::memory_order_relaxed);
    return 0;
  }
  uint32_t reached = 0;
  if (status >= 502 && status <= 504) {
    if (s.consecutiveGatewayFailure.fetch_add(1, std::memory_order_relaxed) + 1 == c.consecutiveGatewayFailure) {
      reached |= kConsecutiveGatewayFailure;
    }
  } else {
    s.consecutiveGatewayFailure.store(0, std::memory_order_relaxed);
  }
  if (s.consecutive5xx.fetch_add(1, std::memory_order_relaxed) + 1 == c.consecutive5xx) reached |= kConsecutive5xx;
  return reached;
}

namespace {

using std::chrono::milliseconds;

// A setting: the runtime's outlier_detection.<name> where it has one (Envoy's DetectorConfig reads
// them at each use), else the cluster's, else Envoy's default.
uint32_t setting(const RuntimeSnapshot& rt, std::string_view name, bool has, const google::protobuf::UInt32Value& v,
                 uint32_t fallback) {
  uint64_t value = rt.getInteger("outlier_detection." + std::string(name), has ? v.value() : fallback);
  return static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX));
}
#define OUTLIER_SETTING(rt, od, field, fallback) setting(rt, #field, (od).has_##field(), (od).field(), fallback)

milliseconds runtimeMillis(const RuntimeSnapshot& rt, std::string_view name, milliseconds configured) {
  return milliseconds(rt.getInteger("outlier_detection." + std::string(name), static_cast<uint64_t>(configured.count())));
}

// Envoy's defaults: interval 10 s, base_ejection_time 30 s, max_ejection_time 300 s or
// base_ejection_time where that is longer.
milliseconds intervalOf(const OutlierDetection& od) { return od.has_interval() ? toMillis(od.interval()) : milliseconds(10000); }

}  // namespace

milliseconds baseEjectionTime(const OutlierDetection& od) {
  return od.has_base_ejection_time() ? toMillis(od.base_ejection_time()) : milliseconds(30000);
}

milliseconds maxEjectionTime(const OutlierDetection& od) {
  return od.has_max_ejection_time() ? toMillis(od.max_ejection_time()) : std::max(milliseconds(300000), baseEjectionTime(od));
}

void OutlierDetector::reconcile(const std::vector<std::shared_ptr<const envoy::config::cluster::v3::Cluster>>& clusters) {
  // In place: an ejection publishes a configuration, which comes back here while the detector
  // walks a cluster's hosts.
  std::map<std::string, std::shared_ptr<const envoy::config::cluster::v3::Cluster>> wanted;
  for (const auto& proto : clusters) {
    if (proto->has_outlier_detection()) wanted[proto->name()] = proto;
  }
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second == it->second.proto) {
      ++it;
      continue;
    }
    drop(it->second);  // gone, or changed
    it = clusters_.erase(it);
  }
  for (const auto& [name, proto] : wanted) {
    Cluster& c = clusters_[name];
    if (c.proto) continue;
    c.proto = proto;
    c.interval = intervalOf(proto->outlier_detection());
    arm(name, c);
  }
}

void OutlierDetector::drop(Cluster& c) {
  if (c.timer) c.timer->cancel();
  if (!c.stats) return;
  for (const auto& [key, h] : c.hosts) {
    if (h.ejected) c.stats->outlier_ejections_active--;
  }
}

void OutlierDetector::arm(const std::string& name, Cluster& c) {
  if (c.timer) c.timer->cancel();
  auto timer = std::make_shared<boost::asio::steady_timer>(main_);
  c.timer = timer;
  timer->expires_after(std::max(runtimeMillis(manager_.runtime(), "interval_ms", c.interval), milliseconds(1)));
  timer->async_wait([this, name, timer](boost::system::error_code ec) {
    auto it = clusters_.find(name);
    if (ec || it == clusters_.end() || it->second.timer != timer) return;
    onInterval(name);
  });
}

void OutlierDetector::onConsecutive(const std::string& cluster, const std::string& hostKey, OutlierEvent event) {
  const OutlierDetection* od = manager_.outlierDetection(cluster);
  auto config = manager_.current();
  auto view = config->clusters.find(cluster);
  if (!od || view == config->clusters.end()) return;
  const Host* host = nullptr;
  for (const Host& h : view->second->hosts) {
    if (h.key() == hostKey) host = &h;
  }
  if (!host || host->ejected || clusters_[cluster].hosts[hostKey].ejected) return;
  ClusterStats& stats = *view->second->stats;
  if (event == kConsecutive5xx) {
    stats.outlier_ejections_detected_consecutive_5xx++;
    eject(cluster, hostKey, Kind::kConsecutive5xx, *od);
    host->outlier->consecutive5xx = 0;
  } else {
    stats.outlier_ejections_detected_consecutive_gateway_failure++;
    eject(cluster, hostKey, Kind::kConsecutiveGatewayFailure, *od);
    host->outlier->consecutiveGatewayFailure = 0;
  }
}

void OutlierDetector::eject(const std::string& name, const std::string& hostKey, Kind kind, const OutlierDetection& od) {
  if (auto c = clusters_.find(name); c != clusters_.end()) {
    if (auto h = c->second.hosts.find(hostKey); h != c->second.hosts.end() && h->second.ejected) return;
  }
  auto config = manager_.current();
  auto view = config->clusters.find(name);
  if (view == config->clusters.end()) return;
  ClusterStats& stats = *view->second->stats;
  if (!manager_.ejectionWithinLimit(name)) {
    stats.outlier_ejections_overflow++;
    return;
  }
  const RuntimeSnapshot& rt = manager_.runtime();
  uint32_t enforcing = 0;
  switch (kind) {
    case Kind::kConsecutive5xx: enforcing = OUTLIER_SETTING(rt, od, enforcing_consecutive_5xx, 100); break;
    case Kind::kConsecutiveGatewayFailure:
      enforcing = OUTLIER_SETTING(rt, od, enforcing_consecutive_gateway_failure, 0);
      break;
    case Kind::kSuccessRate: enforcing = OUTLIER_SETTING(rt, od, enforcing_success_rate, 100); break;
    case Kind::kFailurePercentage:
      enforcing = OUTLIER_SETTING(rt, od, enforcing_failure_percentage, 0);
      break;
  }
  if (random_() % 100 >= enforcing) return;
  if (!manager_.setHostEjected(name, hostKey, true)) return;
  Cluster& c = clusters_[name];
  if (!c.stats) c.stats = view->second->stats;
  HostState& h = c.hosts[hostKey];
  h.ejected = true;
  h.ejectedAt = Clock::now();
  milliseconds base = runtimeMillis(rt, "base_ejection_time_ms", baseEjectionTime(od));
  if (h.backOff * base < runtimeMillis(rt, "max_ejection_time_ms", maxEjectionTime(od)) + base) ++h.backOff;
  stats.outlier_ejections_enforced_total++;
  stats.outlier_ejections_active++;
  logger(Log::kUpstream).debug("msg=\"host ejected\" cluster={} host={} times={}", name, hostKey, h.backOff);
  switch (kind) {
    case Kind::kConsecutive5xx: stats.outlier_ejections_enforced_consecutive_5xx++; break;
    case Kind::kConsecutiveGatewayFailure: stats.outlier_ejections_enforced_consecutive_gateway_failure++; break;
    case Kind::kSuccessRate: stats.outlier_ejections_enforced_success_rate++; break;
    case Kind::kFailurePercentage: stats.outlier_ejections_enforced_failure_percentage++; break;
  }
}

void OutlierDetector::uneject(const std::string& name, const std::string& hostKey, HostState& h) {
  manager_.setHostEjected(name, hostKey, false);
  h.ejected = false;
  h.returnedAt = Clock::now();
  auto config = manager_.current();
  auto view = config->clusters.find(name);
  if (view == config->clusters.end()) return;
  view->second->stats->outlier_ejections_active--;
  // As Envoy: counts close to their threshold would eject it again after a few errors.
  for (const Host& host : view->second->hosts) {
    if (host.outlier && host.key() == hostKey) {
      host.outlier->consecutive5xx = 0;
      host.outlier->consecutiveGatewayFailure = 0;
    }
  }
}

void OutlierDetector::onHealthCheckPassed(const std::string& cluster, const std::string& hostKey) {
  const OutlierDetection* od = manager_.outlierDetection(cluster);
  if (!od || (od->has_successful_active_health_check_uneject_host() && !od->successful_active_health_check_uneject_host().value())) {
    return;
  }
  auto c = clusters_.find(cluster);
  if (c == clusters_.end()) return;
  auto h = c->second.hosts.find(hostKey);
  if (h != c->second.hosts.end() && h->second.ejected) uneject(cluster, hostKey, h->second);
}

void OutlierDetector::onInterval(const std::string& name) {
  const OutlierDetection* od = manager_.outlierDetection(name);
  auto it = clusters_.find(name);
  if (!od || it == clusters_.end()) return;  // reconcile() stops it too
  Cluster& c = it->second;
  auto now = Clock::now();
  const RuntimeSnapshot& rt = manager_.runtime();
  milliseconds base = runtimeMillis(rt, "base_ejection_time_ms", baseEjectionTime(*od));
  milliseconds max = runtimeMillis(rt, "max_ejection_time_ms", maxEjectionTime(*od));
  milliseconds interval = runtimeMillis(rt, "interval_ms", intervalOf(*od));
  for (auto& [key, h] : c.hosts) {
    if (h.ejected && std::min(base * h.backOff, max) <= now - h.ejectedAt) {
      uneject(name, key, h);
    } else if (!h.ejected && h.returnedAt && now - *h.returnedAt >= interval && h.backOff > 0) {
      --h.backOff;
    }
  }
  std::erase_if(c.hosts, [](const auto& kv) { return !kv.second.ejected && kv.second.backOff == 0; });
  byInterval(name, *od);
  arm(name, c);
}

void OutlierDetector::byInterval(const std::string& name, const OutlierDetection& od) {
  auto config = manager_.current();
  auto view = config->clusters.find(name);
  if (view == config->clusters.end()) return;
  const std::vector<Host>& hosts = view->second->hosts;
  // The interval's counts, taken from every host (the next interval starts from zero).
  struct Rate {
    std::string key;
    double successPercent;
    uint64_t volume;
    HostOutlierState* state;
  };
  std::vector<Rate> rates;
  for (const Host& h : hosts) {
    if (!h.outlier) continue;
    uint64_t requests = h.outlier->requests.exchange(0, std::memory_order_relaxed);
    uint64_t successes = h.outlier->successes.exchange(0, std::memory_order_relaxed);
    h.outlier->successRate = -1;  // until this interval gives it one
    if (h.ejected || requests == 0) continue;
    rates.push_back({h.key(), 100.0 * double(std::min(successes, requests)) / double(requests), requests,
                     h.outlier.get()});
  }
  ClusterStats& stats = *view->second->stats;
  stats.outlier_success_rate_average = -1;
  stats.outlier_success_rate_ejection_threshold = -1;
  const RuntimeSnapshot& rt = manager_.runtime();
  uint32_t srHosts = OUTLIER_SETTING(rt, od, success_rate_minimum_hosts, 5);
  uint32_t srVolume = std::max(OUTLIER_SETTING(rt, od, success_rate_request_volume, 100), 1u);
  uint32_t fpHosts = OUTLIER_SETTING(rt, od, failure_percentage_minimum_hosts, 5);
  uint32_t fpVolume = std::max(OUTLIER_SETTING(rt, od, failure_percentage_request_volume, 50), 1u);
  if (hosts.size() < srHosts && hosts.size() < fpHosts) return;
  std::vector<const Rate*> bySuccess, byFailure;
  double sum = 0;
  for (const Rate& r : rates) {
    // A host's rate shows in /clusters once it has either kind's volume, as Envoy's.
    if (r.volume >= std::min(srVolume, fpVolume)) r.state->successRate = r.successPercent;
    if (r.volume >= srVolume) {
      bySuccess.push_back(&r);
      sum += r.successPercent;
    }
    if (r.volume >= fpVolume) byFailure.push_back(&r);
  }
  if (!bySuccess.empty() && bySuccess.size() >= srHosts) {
    double mean = sum / double(bySuccess.size());
    double variance = 0;
    for (const Rate* r : bySuccess) variance += (r->successPercent - mean) * (r->successPercent - mean);
    variance /= double(bySuccess.size());
    double factor = OUTLIER_SETTING(rt, od, success_rate_stdev_factor, 1900) / 1000.0;
    double threshold = mean - factor * std::sqrt(variance);
    stats.outlier_success_rate_average = mean;
    stats.outlier_success_rate_ejection_threshold = threshold;
    for (const Rate* r : bySuccess) {
      if (r->successPercent >= threshold) continue;
      stats.outlier_ejections_detected_success_rate++;
      eject(name, r->key, Kind::kSuccessRate, od);
    }
  }
  if (!byFailure.empty() && byFailure.size() >= fpHosts) {
    double threshold = OUTLIER_SETTING(rt, od, failure_percentage_threshold, 85);
    for (const Rate* r : byFailure) {
      if (100.0 - r->successPercent < threshold) continue;
      stats.outlier_ejections_detected_failure_percentage++;
      eject(name, r->key, Kind::kFailurePercentage, od);
    }
  }
}

void OutlierDetector::stop() {
  for (auto& [name, c] : clusters_) {
    if (c.timer) c.timer->cancel();
  }
  clusters_.clear();
}

}  // namespace meshd::proxy
