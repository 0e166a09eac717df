#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include "proxy/health_checker.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/health_probe.h"

namespace meshd::proxy {

struct HealthChecker::Check {
  std::string cluster;
  std::string hostKey;
  Host host;
  envoy::config::core::v3::HealthCheck hc;
  std::shared_ptr<ClusterStats> stats;
  bool stopped = false;
  std::shared_ptr<boost::asio::steady_timer> timer;
};

HealthChecker::HealthChecker(boost::asio::io_context& main, OnVerdict onVerdict)
    : main_(main), onVerdict_(std::move(onVerdict)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::stop() {
  for (auto& [k, c] : checks_) {
    c->stopped = true;
    c->timer->cancel();
  }
  checks_.clear();
}

void HealthChecker::reconcile(const std::vector<std::shared_ptr<const envoy::config::cluster::v3::Cluster>>& clusters,
                              const Config& config) {
  std::map<std::string, std::shared_ptr<Check>> next;
  for (const auto& c : clusters) {
    if (c->health_checks_size() == 0) continue;
    auto view = config.clusters.find(c->name());
    if (view == config.clusters.end()) continue;
    const auto& hc = c->health_checks(0);
    for (const Host& h : view->second->hosts) {
      std::string hostKey = h.address + ":" + std::to_string(h.port);
      std::string key = c->name() + "|" + hostKey + "|" + hc.SerializeAsString();
      if (auto it = checks_.find(key); it != checks_.end()) {
        next[key] = it->second;
        checks_.erase(it);
        continue;
      }
      auto check = std::make_shared<Check>();
      check->cluster = c->name();
      check->hostKey = hostKey;
      check->host = h;
      check->hc = hc;
      check->stats = view->second->stats;
      check->timer = std::make_shared<boost::asio::steady_timer>(main_);
      next[key] = check;
      boost::asio::co_spawn(main_, [this, check]() -> Task<> {
        uint32_t fails = 0, passes = 0;
        bool failed = check->host.failedActiveHc;  // a verdict that outlived an earlier check
        uint32_t unhealthy = check->hc.has_unhealthy_threshold() ? check->hc.unhealthy_threshold().value() : 1;
        uint32_t healthy = check->hc.has_healthy_threshold() ? check->hc.healthy_threshold().value() : 1;
        auto interval = toMillis(check->hc.interval());
        if (interval.count() <= 0) interval = std::chrono::milliseconds(5000);
        while (!check->stopped) {
          check->stats->health_check_attempt++;
          ProbeResult result = co_await probeHealth(check->host, check->hc, check->cluster);
          bool ok = result == ProbeResult::kPassed;
          if (check->stopped) co_return;
          if (std::exchange(check->host.pendingActiveHc, false)) {  // the first check decides alone
            (ok ? check->stats->health_check_success : check->stats->health_check_failure)++;
            failed = !ok;
            onVerdict_(check->cluster, check->hostKey, failed);
          } else if (ok) {
            check->stats->health_check_success++;
            fails = 0;
            if (failed && ++passes >= healthy) {
              failed = false;
              onVerdict_(check->cluster, check->hostKey, false);
            }
          } else {
            check->stats->health_check_failure++;
            passes = 0;
            // As Envoy: an answer that fails takes the host out at once; only network failures
            // count toward unhealthy_threshold.
            if (!failed && (result == ProbeResult::kFailed || ++fails >= unhealthy)) {
              failed = true;
              onVerdict_(check->cluster, check->hostKey, true);
            }
          }
          boost::system::error_code ec;
          check->timer->expires_after(interval);
          co_await check->timer->async_wait(into(ec));
        }
      }, boost::asio::detached);
    }
  }
  for (auto& [k, c] : checks_) {  // what is left went away (its verdict stays with the manager)
    c->stopped = true;
    c->timer->cancel();
  }
  checks_ = std::move(next);
}

}  // namespace meshd::proxy
