#pragma once
// Outlier detection as Envoy's detector. Workers count each attempt on a host of a cluster with
// outlier_detection, as the HTTP status Envoy gives it (outlierStatus), in atomics of the host's that
// all of them share: its consecutive 5xx and gateway failures (502, 503, 504) and the interval's
// requests and successes. A worker whose attempt made a host reach consecutive_5xx or
// consecutive_gateway_failure tells the main thread, which ejects the host if that kind of ejection
// is enforced (enforcing_consecutive_5xx, 100% by default; enforcing_consecutive_gateway_failure, 0%)
// and one more ejected host stays within max_ejection_percent (10%), and raises its back-off.
// Every `interval` (10 s), on the main thread:
// - a host ejected for base_ejection_time times its back-off (capped by max_ejection_time, 300 s)
//   returns, and the back-off of a host that stayed in for an interval since it returned goes down;
// - success rate: with at least success_rate_minimum_hosts (5) hosts having had
//   success_rate_request_volume (100) requests in the interval, a host whose success rate is below
//   mean - success_rate_stdev_factor/1000 × stdev is ejected (enforcing_success_rate, 100%);
// - failure percentage: likewise with failure_percentage_minimum_hosts (5) and _request_volume (50),
//   a host failing failure_percentage_threshold (85%) or more (enforcing_failure_percentage, 0%).
// Each setting can be overridden in the runtime (runtime.h) under Envoy's key,
// outlier_detection.<field> (interval_ms, base_ejection_time_ms, max_ejection_time_ms for the
// durations), read at each use.
// Counters go to the cluster's outlier_detection.* stats. Thread-safety: main thread only, but for
// countForOutlierDetection.

#include <envoy/config/cluster/v3/cluster.pb.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "proxy/config_manager.h"

namespace meshd::proxy {

// What an attempt made a host reach, as bits: report each to the main thread.
enum OutlierEvent : uint32_t { kConsecutive5xx = 1, kConsecutiveGatewayFailure = 2 };

// What a worker does after each attempt on a host (`status`: the response's, or Envoy's stand-in
// for a local failure: outlierStatus()). Returns the OutlierEvent bits reached; 0 when the cluster
// has no outlier detection.
uint32_t countForOutlierDetection(const ClusterView& c, const Host& h, uint32_t status);

// How long a first ejection lasts: base_ejection_time, 30 s by default.
std::chrono::milliseconds baseEjectionTime(const envoy::config::cluster::v3::OutlierDetection& od);
// The longest a host stays ejected: max_ejection_time, by default 300 s or base_ejection_time where
// that is longer (Envoy's).
std::chrono::milliseconds maxEjectionTime(const envoy::config::cluster::v3::OutlierDetection& od);

class OutlierDetector {
 public:
  OutlierDetector(boost::asio::io_context& main, ConfigManager& manager) : main_(main), manager_(manager) {}

  // Runs the interval tick of each cluster with outlier detection; stops the others'.
  void reconcile(const std::vector<std::shared_ptr<const envoy::config::cluster::v3::Cluster>>& clusters);
  void onConsecutive(const std::string& cluster, const std::string& hostKey, OutlierEvent event);
  // A host passed an active health check and is not failing it: an ejected host comes back at
  // once, unless successful_active_health_check_uneject_host is false (Envoy's).
  void onHealthCheckPassed(const std::string& cluster, const std::string& hostKey);
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct HostState {
    uint32_t backOff = 0;  // Envoy's ejectTimeBackoff
    bool ejected = false;
    Clock::time_point ejectedAt;
    std::optional<Clock::time_point> returnedAt;
  };
  enum class Kind { kConsecutive5xx, kConsecutiveGatewayFailure, kSuccessRate, kFailurePercentage };
  struct Cluster {
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::chrono::milliseconds interval{0};
    std::map<std::string, HostState> hosts;  // hosts ejected now or with a back-off
    // The version of the cluster this state is of: a changed cluster is built anew, as Envoy's,
    // with a fresh detector (the old one's ejections end).
    std::shared_ptr<const envoy::config::cluster::v3::Cluster> proto;
    std::shared_ptr<ClusterStats> stats;  // for ejections_active once the state goes
  };

  void arm(const std::string& name, Cluster& c);
  // Ends a cluster's state: its timer stops, its ejections no longer count as active.
  static void drop(Cluster& c);
  // Brings an ejected host back, its consecutive failure counts reset; its back-off stays.
  void uneject(const std::string& name, const std::string& hostKey, HostState& h);
  void onInterval(const std::string& name);
  // The success rate and failure percentage ejections of the interval that ended.
  void byInterval(const std::string& name, const envoy::config::cluster::v3::OutlierDetection& od);
  // Ejects `hostKey` if within max_ejection_percent and enforced for `kind`; counts the stats.
  void eject(const std::string& name, const std::string& hostKey, Kind kind,
             const envoy::config::cluster::v3::OutlierDetection& od);

  boost::asio::io_context& main_;
  ConfigManager& manager_;
  std::map<std::string, Cluster> clusters_;
  std::mt19937_64 random_{std::random_device{}()};  // enforcement draws
};

}  // namespace meshd::proxy
