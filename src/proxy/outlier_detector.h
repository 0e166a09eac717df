#pragma once
// Outlier detection (consecutive 5xx): workers count each host's consecutive failures (5xx
// responses, connect failures, resets) in an atomic shared by all of them and, when a host reaches
// the cluster's consecutive_5xx, tell the main thread, which ejects it for base_ejection_time times
// the number of times it was ejected (capped by max_ejection_time, default 300 s), within
// max_ejection_percent. Thread-safety: main thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
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
  boost::asio::io_context& main_;
  ConfigManager& manager_;
  std::map<std::string, uint32_t> ejections_;  // "cluster|host" -> times ejected
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> timers_;
};

// What a worker does after each attempt on a host of a cluster with outlier detection: true when
// this failure made the host reach the threshold (report it to the main thread).
bool countForOutlierDetection(const ClusterView& c, const Host& h, bool failed);

}  // namespace meshd::proxy
