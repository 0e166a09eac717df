#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include "proxy/health_checker.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/health_probe.h"
#include "proxy/loggers.h"

namespace meshd::proxy {

namespace {

using std::chrono::milliseconds;

milliseconds orElse(bool has, const google::protobuf::Duration& d, milliseconds fallback) {
  return has && toMillis(d).count() > 0 ? toMillis(d) : fallback;
}

}  // namespace

namespace {

// Envoy's intervalWithJitter().
milliseconds withJitter(uint64_t baseMs, const envoy::config::core::v3::HealthCheck& hc, milliseconds jitter,
                        const std::function<uint64_t()>& random) {
  uint64_t percentMod = uint64_t(hc.interval_jitter_percent()) * baseMs / 100;
  if (percentMod > 0) baseMs += random() % percentMod;
  if (jitter.count() > 0) baseMs += random() % uint64_t(jitter.count());
  return milliseconds(std::max<uint64_t>(baseMs, 1));  // never 0: no live lock
}

}  // namespace

milliseconds healthCheckInterval(const envoy::config::core::v3::HealthCheck& hc, bool hadTraffic, bool passed,
                                 bool changePending, const std::function<uint64_t()>& random) {
  milliseconds interval = orElse(hc.has_interval(), hc.interval(), milliseconds(5000));
  milliseconds base;
  if (!hadTraffic) {
    milliseconds noTraffic = orElse(hc.has_no_traffic_interval(), hc.no_traffic_interval(), milliseconds(60000));
    base = passed && !changePending
               ? orElse(hc.has_no_traffic_healthy_interval(), hc.no_traffic_healthy_interval(), noTraffic)
               : noTraffic;
  } else if (!passed) {
    milliseconds unhealthy = orElse(hc.has_unhealthy_interval(), hc.unhealthy_interval(), interval);
    base = changePending ? orElse(hc.has_unhealthy_edge_interval(), hc.unhealthy_edge_interval(), unhealthy) : unhealthy;
  } else {
    base = changePending ? orElse(hc.has_healthy_edge_interval(), hc.healthy_edge_interval(), interval) : interval;
  }
  return withJitter(uint64_t(base.count()), hc, toMillis(hc.interval_jitter()), random);
}

milliseconds healthCheckInitialDelay(const envoy::config::core::v3::HealthCheck& hc,
                                     const std::function<uint64_t()>& random) {
  milliseconds jitter = toMillis(hc.initial_jitter());
  if (jitter.count() <= 0) return milliseconds(0);
  return withJitter(0, hc, jitter, random);
}

struct HealthChecker::Check {
  std::string cluster;
  std::string hostKey;
  Host host;
  envoy::config::core::v3::HealthCheck hc;
  std::shared_ptr<ClusterStats> stats;
  bool stopped = false;
  std::shared_ptr<boost::asio::steady_timer> timer;
  ProbeConnection connection;  // kept from probe to probe, as Envoy's reuse_connection
};

HealthChecker::HealthChecker(boost::asio::io_context& main, OnVerdict onVerdict, OnPass onPass)
    : main_(main), onVerdict_(std::move(onVerdict)), onPass_(std::move(onPass)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::stop() {
  for (auto& [k, c] : checks_) {
    c->stopped = true;
    c->timer->cancel();
  }
  checks_.clear();
}

void HealthChecker::reconcile(const std::vector<ConfigManager::HealthCheckTarget>& targets) {
  std::map<std::string, std::shared_ptr<Check>> next;
  for (const auto& [c, hosts, stats] : targets) {
    const auto& hc = c->health_checks(0);
    // As Envoy, which builds a changed cluster anew, with fresh health checkers: a check lives as
    // long as its host and its cluster's definition.
    std::string definition = c->SerializeAsString();
    for (const Host& h : hosts) {
      std::string hostKey = h.address + ":" + std::to_string(h.port);
      std::string key = c->name() + "|" + hostKey + "|" + definition;
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
      check->stats = stats;
      check->timer = std::make_shared<boost::asio::steady_timer>(main_);
      next[key] = check;
      boost::asio::co_spawn(main_, [this, check]() -> Task<> {
        uint32_t fails = 0, passes = 0;
        bool failed = check->host.failedActiveHc;  // a verdict that outlived an earlier check
        uint32_t unhealthy = check->hc.has_unhealthy_threshold() ? check->hc.unhealthy_threshold().value() : 1;
        uint32_t healthy = check->hc.has_healthy_threshold() ? check->hc.healthy_threshold().value() : 1;
        auto random = [this] { return random_(); };
        if (milliseconds delay = healthCheckInitialDelay(check->hc, random); delay.count() > 0) {
          boost::system::error_code ec;
          check->timer->expires_after(delay);
          co_await check->timer->async_wait(into(ec));
        }
        while (!check->stopped) {
          check->stats->health_check_attempt++;
          ProbeResult result = co_await probeHealth(check->host, check->hc, check->cluster, check->connection);
          bool ok = result == ProbeResult::kPassed;
          if (check->stopped) co_return;
          if (std::exchange(check->host.pendingActiveHc, false)) {  // the first check decides alone
            (ok ? check->stats->health_check_success : check->stats->health_check_failure)++;
            if (result == ProbeResult::kNetworkFailure) check->stats->health_check_network_failure++;
            failed = !ok;
            onVerdict_(check->cluster, check->hostKey, failed);
          } else if (ok) {
            check->stats->health_check_success++;
            fails = 0;
            if (failed && ++passes >= healthy) {
              failed = false;
              logger(Log::kHc).debug("msg=\"health check passed\" cluster={} host={}", check->cluster, check->hostKey);
              onVerdict_(check->cluster, check->hostKey, false);
            }
          } else {
            check->stats->health_check_failure++;
            if (result == ProbeResult::kNetworkFailure) check->stats->health_check_network_failure++;
            passes = 0;
            // As Envoy: an answer that fails takes the host out at once; only network failures
            // count toward unhealthy_threshold.
            if (!failed && (result == ProbeResult::kFailed || ++fails >= unhealthy)) {
              failed = true;
              logger(Log::kHc).debug("msg=\"health check failed\" cluster={} host={}", check->cluster, check->hostKey);
              onVerdict_(check->cluster, check->hostKey, true);
            }
          }
          if (ok && !failed && onPass_) onPass_(check->cluster, check->hostKey);
          boost::system::error_code ec;
          bool pending = failed ? passes > 0 : fails > 0;  // a change under way, short of its threshold
          bool hadTraffic = check->stats->upstream_cx_total.load(std::memory_order_relaxed) > 0;
          check->timer->expires_after(healthCheckInterval(check->hc, hadTraffic, ok, pending, random));
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
