#pragma once
// Envoy's tag extraction: a stat's full name (cluster.c.upstream_rq_200) split into the name its
// sinks report (cluster.upstream_rq) and tags (envoy.response_code=200, envoy.cluster_name=c), by
// Envoy's default extractors for the stats meshproxy has, and the bootstrap's stats_config
// stats_tags (a fixed value on every stat, or a regex whose first group is cut from the name and
// whose second, else first, is the value). Prometheus (admin.cc) and DogStatsD (statsd_sink.h)
// both name stats this way.

#include <envoy/config/metrics/v3/stats.pb.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace meshd::proxy {

struct TaggedName {
  std::string name;                                        // the tag-extracted name
  std::vector<std::pair<std::string, std::string>> tags;  // in Envoy's order of extraction
};

class TagProducer {
 public:
  // The default extractors only.
  TagProducer();
  ~TagProducer();
  // The default extractors and `config`'s stats_tags, or why `config` cannot be taken (a tag
  // name twice, a bad regex), as Envoy refuses such a bootstrap. A configured tag named as a
// default extractor replaces it; use_all_default_tags false turns the defaults off.
  static StatusOr<std::shared_ptr<const TagProducer>> make(const envoy::config::metrics::v3::StatsConfig& config);

  TaggedName produce(std::string_view name) const;

 private:
  struct Configured;
  // Whether the default extractor of that name runs.
  bool wants(std::string_view defaultName) const;

  std::vector<Configured> configured_;  // stats_tags, in order
  bool defaults_ = true;                // use_all_default_tags
  std::set<std::string> named_;         // defaults named by a stats_tags entry without a regex
  std::set<std::string> replaced_;      // defaults a configured tag of the same name replaces
};

}  // namespace meshd::proxy
