#include "proxy/outlier_detector.h"

namespace meshd::proxy {

bool countForOutlierDetection(const ClusterView& c, const Host& h, bool failed) {
  if (c.consecutive5xx == 0 || !h.outlier) return false;
  if (!failed) {
    h.outlier->consecutive5xx = 0;
    return false;
  }
  return ++h.outlier->consecutive5xx == c.consecutive5xx;
}

namespace {

struct Timing {
  std::chrono::milliseconds interval, base, max;
};

// Envoy's defaults: interval 10 s, base_ejection_time 30 s, max_ejection_time 300 s.
Timing timing(const envoy::config::cluster::v3::OutlierDetection& od) {
  return {od.has_interval() ? toMillis(od.interval()) : std::chrono::milliseconds(10000),
          od.has_base_ejection_time() ? toMillis(od.base_ejection_time()) : std::chrono::milliseconds(30000),
          od.has_max_ejection_time() ? toMillis(od.max_ejection_time()) : std::chrono::milliseconds(300000)};
}

}  // namespace

void OutlierDetector::onConsecutive5xx(const std::string& cluster, const std::string& hostKey) {
  const auto* od = manager_.outlierDetection(cluster);
  if (!od) return;
  HostState& h = hosts_[cluster][hostKey];
  if (h.ejected || !manager_.setHostEjected(cluster, hostKey, true)) return;
  Timing t = timing(*od);
  h.ejected = true;
  h.ejectedAt = Clock::now();
  if (h.backOff * t.base < t.max + t.base) ++h.backOff;
  if (!timers_.count(cluster)) arm(cluster, t.interval);
}

void OutlierDetector::arm(const std::string& cluster, std::chrono::milliseconds interval) {
  auto timer = std::make_shared<boost::asio::steady_timer>(main_);
  timers_[cluster] = timer;
  timer->expires_after(std::max(interval, std::chrono::milliseconds(1)));
  timer->async_wait([this, cluster, timer](boost::system::error_code ec) {
    if (ec || timers_[cluster] != timer) return;
    timers_.erase(cluster);
    onInterval(cluster);
  });
}

void OutlierDetector::onInterval(const std::string& cluster) {
  const auto* od = manager_.outlierDetection(cluster);
  auto& hosts = hosts_[cluster];
  if (!od) {  // the cluster or its detection went away, and its ejections with it
    hosts_.erase(cluster);
    return;
  }
  Timing t = timing(*od);
  auto now = Clock::now();
  for (auto& [key, h] : hosts) {
    if (h.ejected && std::min(t.base * h.backOff, t.max) <= now - h.ejectedAt) {
      manager_.setHostEjected(cluster, key, false);
      h.ejected = false;
      h.returnedAt = now;
    } else if (!h.ejected && h.returnedAt && now - *h.returnedAt >= t.interval && h.backOff > 0) {
      --h.backOff;
    }
  }
  std::erase_if(hosts, [](const auto& kv) { return !kv.second.ejected && kv.second.backOff == 0; });
  if (hosts.empty()) {
    hosts_.erase(cluster);
  } else {
    arm(cluster, t.interval);
  }
}

void OutlierDetector::stop() {
  for (auto& [k, t] : timers_) t->cancel();
  timers_.clear();
}

}  // namespace meshd::proxy
