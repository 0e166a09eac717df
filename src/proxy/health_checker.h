#pragma once
// Active health checks (TCP, HTTP over HTTP/1.1 or HTTP/2, gRPC: health_probe.h) for the clusters
// that configure them, on the main thread. As Envoy: a new host counts as failed until its first
// check, which alone decides; then a failing answer (an HTTP status but 200, a gRPC status but
// SERVING) marks it failed_active_hc at once, `unhealthy_threshold` consecutive network failures
// (no connection, a reset, the timeout) do too, and `healthy_threshold` consecutive passes clear
// it. Checks come at Envoy's intervals, with its jitter (healthCheckInterval). Verdicts go to the
// callback; counters to the cluster's stats (health_check.attempt/success/failure).
// Thread-safety: main thread only.

#include <envoy/config/cluster/v3/cluster.pb.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "proxy/config.h"
#include "proxy/config_manager.h"

namespace meshd::proxy {

// When a host's next check comes, as Envoy's HealthCheckerImplBase::interval(), by the result of
// the check just made (`passed`) and whether it moves the host toward a change short of the
// threshold (`changePending`: a healthy host failing, an unhealthy one passing). While the cluster
// never opened a connection: no_traffic_healthy_interval after a pass that changes nothing, else
// no_traffic_interval (60 s by default). Then: a failure waits unhealthy_edge_interval when pending,
// else unhealthy_interval; a pass waits healthy_edge_interval when pending, else interval (unset
// edges fall back to unhealthy_interval or interval, unhealthy_interval to interval, 5 s here when
// unset). Then the jitter: random() % (interval_jitter_percent of it), and random() % interval_jitter.
// Pure but for `random`.
std::chrono::milliseconds healthCheckInterval(const envoy::config::core::v3::HealthCheck& hc, bool hadTraffic,
                                              bool passed, bool changePending, const std::function<uint64_t()>& random);
// Before a host's first check: random() % initial_jitter (at least 1 ms when set), 0 without one.
std::chrono::milliseconds healthCheckInitialDelay(const envoy::config::core::v3::HealthCheck& hc,
                                                  const std::function<uint64_t()>& random);

class HealthChecker {
 public:
  using OnVerdict = std::function<void(const std::string& cluster, const std::string& hostKey, bool failed)>;

  // After each passing check of a host that is not failing its checks (outlier detection's cue).
  using OnPass = std::function<void(const std::string& cluster, const std::string& hostKey)>;

  HealthChecker(boost::asio::io_context& main, OnVerdict onVerdict, OnPass onPass = {});
  ~HealthChecker();

  // Starts checks for hosts that are new, stops those for hosts or clusters that went away.
  void reconcile(const std::vector<ConfigManager::HealthCheckTarget>& targets);
  void stop();

 private:
  struct Check;
  boost::asio::io_context& main_;
  OnVerdict onVerdict_;
  OnPass onPass_;
  std::mt19937_64 random_{std::random_device{}()};  // the jitter's
  std::map<std::string, std::shared_ptr<Check>> checks_;  // "cluster|host:port|cluster proto" -> running check
};

}  // namespace meshd::proxy
