#pragma once
// Envoy's DogStatsD sink (envoy.stat_sinks.dog_statsd, which the App Mesh Envoy image configures
// with ENABLE_ENVOY_DOG_STATSD): at every stats flush, each counter used so far as its delta
// (`envoy.cluster.upstream_rq:3|c|#envoy.response_code:200,envoy.cluster_name:c`) and each gauge
// used so far as its value (`|g`), and every histogram value recorded meanwhile (`|ms`), named and
// tagged by the TagProducer. Over UDP (socket_address) or a Unix datagram socket (pipe), one
// metric per datagram unless max_bytes_per_datagram says more. Delivery is best effort, as any
// statsd's. Main thread only.

#include <envoy/config/metrics/v3/stats.pb.h>
#include <sys/un.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "proxy/stat_tags.h"
#include "proxy/stats.h"

namespace meshd::proxy {

class DogStatsdSink {
 public:
  // A sink for `config`, or why not (an address that is not an IP literal, a TCP socket address).
  static StatusOr<std::unique_ptr<DogStatsdSink>> make(const envoy::config::metrics::v3::DogStatsdSink& config,
                                                      std::shared_ptr<const TagProducer> tags);
  ~DogStatsdSink();

  // Each histogram's values recorded since the last flush (LatencyHistogram::takeKept).
  using HistogramValues = std::vector<std::pair<std::string, std::vector<uint64_t>>>;
  static HistogramValues take(const std::vector<StatsRegistry::NamedHistogram>& histograms);

  // `stats`: every stat now (counters and gauges, told apart by isGauge).
  void flush(const StatValues& stats, const HistogramValues& histograms);

 private:
  DogStatsdSink(int fd, std::string prefix, size_t maxBytes, std::shared_ptr<const TagProducer> tags);
  // `prefix.name:value|type|#tags`.
  std::string line(const std::string& stat, uint64_t value, const char* type) const;
  void write(const std::string& line);
  void send();

  int fd_;
  std::optional<sockaddr_un> pipe_;  // a pipe's path; UDP sockets are connected
  std::string prefix_;
  size_t maxBytes_;  // 0: a datagram per metric
  std::shared_ptr<const TagProducer> tags_;
  std::string pending_;                // lines not sent yet
  std::map<std::string, uint64_t> last_;  // each counter at the last flush
  std::set<std::string> usedGauges_;       // gauges ever other than 0 (Envoy's used())
};

}  // namespace meshd::proxy
