#pragma once
// Outlier detection (consecutive 5xx) as Envoy's detector: workers count each host's consecutive
// failures (5xx responses, connect failures, resets) in an atomic shared by all of them and, when a
// host reaches the cluster's consecutive_5xx, tell the main thread. That ejects it if one more
// ejected host stays within max_ejection_percent of the cluster's hosts, and raises its back-off.
// On each `interval` tick, a host ejected for base_ejection_time times its back-off (capped by
// max_ejection_time, default 300 s) returns, and the back-off of a host that stayed in for an
// interval since it returned goes down by one. Success-rate ejection is not implemented.
// Thread-safety: main thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "proxy/config_manager.h"

namespace meshd::proxy {

class OutlierDetector {
 public:
  OutlierDetector(boost::asio::io_context& main, ConfigManager& manager) : main_(main), manager_(manager) {}

  void onConsecutive5xx(const std::string& cluster, const std::string& hostKey);
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct HostState {
    uint32_t backOff = 0;  // Envoy's ejectTimeBackoff
    bool ejected = false;
    Clock::time_point ejectedAt;
    std::optional<Clock::time_point> returnedAt;
  };
  // The cluster's interval tick: returns hosts whose ejection is over, lowers back-offs; runs while
  // the cluster has a host ejected or with a back-off.
  void onInterval(const std::string& cluster);
  void arm(const std::string& cluster, std::chrono::milliseconds interval);

  boost::asio::io_context& main_;
  ConfigManager& manager_;
  std::map<std::string, std::map<std::string, HostState>> hosts_;  // cluster -> host -> state
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> timers_;  // cluster -> its tick
};

// What a worker does after each attempt on a host of a cluster with outlier detection: true when
// this failure made the host reach the threshold (report it to the main thread).
bool countForOutlierDetection(const ClusterView& c, const Host& h, bool failed);

}  // namespace meshd::proxy
