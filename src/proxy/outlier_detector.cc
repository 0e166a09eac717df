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

void OutlierDetector::onConsecutive5xx(const std::string& cluster, const std::string& hostKey) {
  std::shared_ptr<const envoy::config::cluster::v3::Cluster> proto;
  for (const auto& c : manager_.clusterProtos()) {
    if (c->name() == cluster) proto = c;
  }
  if (!proto || !proto->has_outlier_detection()) return;
  if (!manager_.setHostEjected(cluster, hostKey, true)) return;
  const auto& od = proto->outlier_detection();
  auto base = od.has_base_ejection_time() ? toMillis(od.base_ejection_time()) : std::chrono::milliseconds(30000);
  auto cap = od.has_max_ejection_time() ? toMillis(od.max_ejection_time()) : std::chrono::milliseconds(300000);
  std::string key = cluster + "|" + hostKey;
  uint32_t times = ++ejections_[key];
  auto timer = std::make_shared<boost::asio::steady_timer>(main_);
  timer->expires_after(std::min(cap, base * times));
  timers_[key] = timer;
  timer->async_wait([this, cluster, hostKey, key, timer](boost::system::error_code ec) {
    if (ec) return;
    manager_.setHostEjected(cluster, hostKey, false);
    if (timers_[key] == timer) timers_.erase(key);
  });
}

void OutlierDetector::stop() {
  for (auto& [k, t] : timers_) t->cancel();
  timers_.clear();
}

}  // namespace meshd::proxy
