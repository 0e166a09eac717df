// Tag extraction as Envoy's: the default extractors for meshproxy's stats, and stats_tags.
#include "proxy/stat_tags.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

TEST(StatTagsTest, DefaultExtractors) {
  struct Case {
    const char* stat;
    const char* name;
    Tags tags;
  };
  const Case cases[] = {
      {"cluster.c.upstream_rq_200", "cluster.upstream_rq", {{"envoy.response_code", "200"}, {"envoy.cluster_name", "c"}}},
      {"cluster.c.upstream_rq_2xx", "cluster.upstream_rq_xx",
       {{"envoy.response_code_class", "2"}, {"envoy.cluster_name", "c"}}},
      {"cluster.c.upstream_rq_total", "cluster.upstream_rq_total", {{"envoy.cluster_name", "c"}}},
      {"cluster.c.health_check.healthy", "cluster.health_check.healthy", {{"envoy.cluster_name", "c"}}},
      {"cluster.c.retry.upstream_rq_503", "cluster.retry.upstream_rq",
       {{"envoy.response_code", "503"}, {"envoy.cluster_name", "c"}}},
      {"http.ingress.downstream_rq_5xx", "http.downstream_rq_xx",
       {{"envoy.response_code_class", "5"}, {"envoy.http_conn_manager_prefix", "ingress"}}},
      {"tcp.egress.downstream_cx_total", "tcp.downstream_cx_total", {{"envoy.tcp_prefix", "egress"}}},
      {"server.live", "server.live", {}},
      {"listener.0.0.0.0_15000.downstream_cx_total", "listener.downstream_cx_total",
       {{"envoy.listener_address", "0.0.0.0_15000"}}},
      {"listener.[__]_8080.downstream_cx_length_ms", "listener.downstream_cx_length_ms",
       {{"envoy.listener_address", "[__]_8080"}}},
      {"cluster_manager.cds.update_success", "cluster_manager.cds.update_success", {}},
      {"cluster.c.upstream_rq_20", "cluster.upstream_rq_20", {{"envoy.cluster_name", "c"}}},  // not a code
  };
  TagProducer p;
  for (const auto& c : cases) {
    TaggedName t = p.produce(c.stat);
    EXPECT_EQ(t.name, c.name) << c.stat;
    EXPECT_EQ(t.tags, c.tags) << c.stat;
  }
}

// The App Mesh Envoy image's stats tags (ENABLE_ENVOY_STATS_TAGS): fixed values on every stat, in
// configuration order after the unprefixed defaults; a regex cuts its first group out of the name
// and takes its second as the value.
TEST(StatTagsTest, ConfiguredFixedAndRegexTags) {
  envoy::config::metrics::v3::StatsConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    stats_tags { tag_name: "appmesh.mesh" fixed_value: "m1" }
    stats_tags { tag_name: "appmesh.virtual_node" fixed_value: "n1" }
    stats_tags { tag_name: "appmesh.listener_port" regex: ".*?\\.ingress\\.\\w+?\\.(([0-9]+?)\\.)(.+?)$" })",
                                                            &config));
  auto p = TagProducer::make(config);
  ASSERT_TRUE(p.ok()) << p.status().message();
  TaggedName t = (*p)->produce("cluster.c.upstream_rq_200");
  EXPECT_EQ(t.name, "cluster.upstream_rq");
  EXPECT_EQ(t.tags, (Tags{{"envoy.response_code", "200"},
                          {"appmesh.mesh", "m1"},
                          {"appmesh.virtual_node", "n1"},
                          {"envoy.cluster_name", "c"}}));
  t = (*p)->produce("listener.ingress.http.8080.downstream_cx_total");
  EXPECT_EQ(t.name, "listener.ingress.http.downstream_cx_total");
  EXPECT_EQ(t.tags, (Tags{{"appmesh.mesh", "m1"}, {"appmesh.virtual_node", "n1"}, {"appmesh.listener_port", "8080"}}));
}

TEST(StatTagsTest, ABadTagSpecifierIsRefused) {
  envoy::config::metrics::v3::StatsConfig config;
  config.add_stats_tags()->set_tag_name("mine");  // no regex, and no default of that name
  EXPECT_FALSE(TagProducer::make(config).ok());
  config.mutable_stats_tags(0)->set_regex("(unclosed");
  EXPECT_FALSE(TagProducer::make(config).ok());
  config.mutable_stats_tags(0)->set_regex("no group");
  EXPECT_FALSE(TagProducer::make(config).ok());
  config.mutable_stats_tags(0)->set_tag_name("envoy.cluster_name");  // a default's name, its regex
  config.mutable_stats_tags(0)->clear_regex();
  EXPECT_TRUE(TagProducer::make(config).ok());
  *config.add_stats_tags() = config.stats_tags(0);
  EXPECT_FALSE(TagProducer::make(config).ok());  // a name twice
}

// A configured tag named as a default replaces it (one label, not two); use_all_default_tags false
// turns the defaults off.
TEST(StatTagsTest, ConfiguredTagsReplaceDefaultsOfTheirName) {
  envoy::config::metrics::v3::StatsConfig config;
  auto* t = config.add_stats_tags();
  t->set_tag_name("envoy.cluster_name");
  t->set_regex("^cluster\\.((.+?)\\.)");
  auto p = TagProducer::make(config);
  ASSERT_TRUE(p.ok());
  TaggedName n = (*p)->produce("cluster.a.b.upstream_rq_total");
  EXPECT_EQ(n.name, "cluster.b.upstream_rq_total");
  EXPECT_EQ(n.tags, (Tags{{"envoy.cluster_name", "a"}}));
  config.Clear();
  config.mutable_use_all_default_tags()->set_value(false);
  p = TagProducer::make(config);
  ASSERT_TRUE(p.ok());
  n = (*p)->produce("cluster.c.upstream_rq_200");
  EXPECT_EQ(n.name, "cluster.c.upstream_rq_200");
  EXPECT_TRUE(n.tags.empty());
}

}  // namespace
}  // namespace meshd::proxy
