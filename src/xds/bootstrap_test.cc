#include "xds/bootstrap.h"

#include <envoy/config/metrics/v3/stats.pb.h>
#include <envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h>
#include <gtest/gtest.h>

namespace meshd::xds {
namespace {

TEST(BootstrapTest, FromAppMeshEnvironment) {
  auto b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "arn:aws:appmesh:us-west-2:123456789012:mesh/m/virtualNode/red"},
                          {"APPMESH_XDS_ENDPOINT", "127.0.0.1:18000"},
                          {"ENVOY_ADMIN_ACCESS_PORT", "9902"},
                          {"MESHD_DNS_RESOLVER", "127.0.0.1:5353"}});
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->node().id(), "mesh/m/virtualNode/red");
  EXPECT_EQ(b->node().cluster(), "red");
  EXPECT_TRUE(b->node().metadata().fields().at(kIpv6AvailableKey).bool_value());
  EXPECT_EQ(b->admin().address().socket_address().address(), "0.0.0.0");
  EXPECT_EQ(b->admin().address().socket_address().port_value(), 9902u);
  EXPECT_EQ(b->dynamic_resources().ads_config().grpc_services(0).envoy_grpc().cluster_name(), kXdsClusterName);
  const auto& xds = b->static_resources().clusters(0);
  EXPECT_EQ(xds.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().port_value(),
            18000u);
  envoy::extensions::network::dns_resolver::cares::v3::CaresDnsResolverConfig cares;
  ASSERT_TRUE(b->typed_dns_resolver_config().typed_config().UnpackTo(&cares));
  EXPECT_EQ(cares.resolvers(0).socket_address().port_value(), 5353u);
  EXPECT_NE(bootstrapJson(*b).find("\"id\": \"mesh/m/virtualNode/red\""), std::string::npos);
}

TEST(BootstrapTest, LegacyNameAndIpv6Admin) {
  auto b = makeBootstrap({{"APPMESH_VIRTUAL_NODE_NAME", "mesh/m/virtualGateway/gw"},
                          {"ENVOY_ADMIN_ACCESS_ENABLE_IPV6", "true"},
                          {"MESHD_IPV6_AVAILABLE", "false"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->node().id(), "mesh/m/virtualGateway/gw");
  EXPECT_EQ(b->admin().address().socket_address().address(), "::");
  EXPECT_FALSE(b->node().metadata().fields().at(kIpv6AvailableKey).bool_value());
  EXPECT_EQ(b->dynamic_resources().ads_config().api_type(), envoy::config::core::v3::ApiConfigSource::GRPC);
}

TEST(BootstrapTest, DeltaXdsOnRequest) {
  auto b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/n"}, {"MESHD_XDS_DELTA", "true"},
                          {"ENVOY_ADMIN_ACCESS_PORT", "9901"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->dynamic_resources().ads_config().api_type(), envoy::config::core::v3::ApiConfigSource::DELTA_GRPC);
  EXPECT_EQ(b->node().metadata().fields().at(kAdminPortKey).number_value(), 9901);
}

// ENVOY_INITIAL_FETCH_TIMEOUT, as the App Mesh image: seconds on CDS and LDS, 0 (wait for ever)
// by default, an integer or refused in the agent's words.
TEST(BootstrapTest, InitialFetchTimeout) {
  auto b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/n"}});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->dynamic_resources().cds_config().has_initial_fetch_timeout());
  EXPECT_EQ(b->dynamic_resources().cds_config().initial_fetch_timeout().seconds(), 0);
  b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/n"}, {"ENVOY_INITIAL_FETCH_TIMEOUT", "20"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->dynamic_resources().cds_config().initial_fetch_timeout().seconds(), 20);
  EXPECT_EQ(b->dynamic_resources().lds_config().initial_fetch_timeout().seconds(), 20);
  EXPECT_TRUE(b->dynamic_resources().lds_config().has_ads());
  EXPECT_EQ(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/n"}, {"ENVOY_INITIAL_FETCH_TIMEOUT", "5s"}}).status().message(),
            "ENVOY_INITIAL_FETCH_TIMEOUT environment variable (\"5s\") must be an integer value.");
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/n"}, {"ENVOY_INITIAL_FETCH_TIMEOUT", "-1"}}).ok());
}

// The App Mesh image's DogStatsD and stats tags variables, as its agent writes them.
TEST(BootstrapTest, DogStatsdAndStatsTags) {
  auto b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m1/virtualNode/n1"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->stats_sinks_size(), 0);
  ASSERT_EQ(b->stats_config().stats_tags_size(), 3);  // the listener tags, always
  EXPECT_EQ(b->stats_config().stats_tags(1).tag_name(), "appmesh.listener_port");
  EXPECT_FALSE(b->has_stats_flush_interval());

  b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m1/virtualNode/n1"}, {"ENABLE_ENVOY_DOG_STATSD", "1"},
                     {"ENABLE_ENVOY_STATS_TAGS", "true"}, {"ENVOY_STATS_FLUSH_INTERVAL", "1m30s"}});
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->stats_sinks_size(), 1);
  EXPECT_EQ(b->stats_sinks(0).name(), "envoy.stat_sinks.dog_statsd");
  envoy::config::metrics::v3::DogStatsdSink dog;
  ASSERT_TRUE(b->stats_sinks(0).typed_config().UnpackTo(&dog));
  EXPECT_EQ(dog.address().socket_address().address(), "127.0.0.1");
  EXPECT_EQ(dog.address().socket_address().port_value(), 8125u);
  EXPECT_EQ(dog.address().socket_address().protocol(), envoy::config::core::v3::SocketAddress::UDP);
  EXPECT_EQ(b->stats_flush_interval().seconds(), 90);
  const auto& tags = b->stats_config().stats_tags();
  ASSERT_EQ(tags.size(), 5);
  EXPECT_EQ(tags[0].tag_name(), "appmesh.mesh");
  EXPECT_EQ(tags[0].fixed_value(), "m1");
  EXPECT_EQ(tags[1].tag_name(), "appmesh.virtual_node");
  EXPECT_EQ(tags[1].fixed_value(), "n1");

  b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "arn:aws:appmesh:us-west-2:1:mesh/m1/virtualGateway/g1"},
                     {"ENABLE_ENVOY_DOG_STATSD", "t"}, {"STATSD_ADDRESS", "10.0.0.5"}, {"STATSD_PORT", "9125"},
                     {"ENABLE_ENVOY_STATS_TAGS", "1"}});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->stats_sinks(0).typed_config().UnpackTo(&dog));
  EXPECT_EQ(dog.address().socket_address().address(), "10.0.0.5");
  EXPECT_EQ(dog.address().socket_address().port_value(), 9125u);
  EXPECT_EQ(b->stats_config().stats_tags(1).tag_name(), "appmesh.virtual_gateway");
  EXPECT_EQ(b->stats_config().stats_tags(1).fixed_value(), "g1");

  b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m1/virtualNode/n1"}, {"ENABLE_ENVOY_DOG_STATSD", "true"},
                     {"STATSD_SOCKET_PATH", "/tmp/statsd.sock"}, {"STATSD_PORT", "9125"}});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->stats_sinks(0).typed_config().UnpackTo(&dog));
  EXPECT_EQ(dog.address().pipe().path(), "/tmp/statsd.sock");
}

TEST(BootstrapTest, BadStatsVariablesAreRefused) {
  auto with = [](std::map<std::string, std::string> env) {
    env["APPMESH_RESOURCE_ARN"] = "mesh/m1/virtualNode/n1";
    return makeBootstrap(env);
  };
  auto bad = with({{"ENABLE_ENVOY_DOG_STATSD", "yes"}});
  EXPECT_EQ(bad.status().message(), "ENABLE_ENVOY_DOG_STATSD environment variable (\"yes\") must be a boolean value.");
  EXPECT_FALSE(with({{"ENABLE_ENVOY_DOG_STATSD", "1"}, {"STATSD_PORT", "TCP"}}).ok());
  EXPECT_FALSE(with({{"ENABLE_ENVOY_STATS_TAGS", "2"}}).ok());
  EXPECT_FALSE(with({{"ENVOY_STATS_FLUSH_INTERVAL", "not_a_duration"}}).ok());
  EXPECT_FALSE(with({{"ENVOY_STATS_CONFIG_FILE", "/etc/stats.yaml"}}).ok());
  EXPECT_TRUE(with({{"ENVOY_STATS_FLUSH_INTERVAL", "500ms"}}).ok());
  for (const char* bad : {".", ".s", "1", "5x", "-1s", "1.2.3s", "99999999999999999999h"}) {
    EXPECT_FALSE(with({{"ENVOY_STATS_FLUSH_INTERVAL", bad}}).ok()) << bad;
  }
  auto b = with({{"ENVOY_STATS_FLUSH_INTERVAL", "1.005s"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->stats_flush_interval().nanos(), 5000000);
}

// The App Mesh agent's layered runtime: its static layer, three switches from the environment
// (unset: their defaults), and an admin layer.
TEST(BootstrapTest, RuntimeLayersAsTheAgentWritesThem) {
  auto b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}});
  ASSERT_TRUE(b.ok()) << b.status().message();
  const auto& layers = b->layered_runtime().layers();
  ASSERT_EQ(layers.size(), 2);
  EXPECT_EQ(layers[0].name(), "static_layer_0");
  const auto& f = layers[0].static_layer().fields();
  EXPECT_TRUE(f.at("envoy.features.enable_all_deprecated_features").bool_value());
  EXPECT_EQ(f.at("re2.max_program_size.error_level").number_value(), 1000);
  EXPECT_TRUE(f.at("envoy.reloadable_features.http_set_tracing_decision_in_request_id").bool_value());
  EXPECT_TRUE(f.at("envoy.reloadable_features.no_extension_lookup_by_name").bool_value());
  EXPECT_FALSE(f.at("envoy.reloadable_features.use_http_client_to_fetch_aws_credentials").bool_value());
  EXPECT_EQ(layers[1].name(), "admin_layer");
  EXPECT_TRUE(layers[1].has_admin_layer());

  b = makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"},
                     {"APPMESH_SET_TRACING_DECISION", "false"},
                     {"ENVOY_USE_HTTP_CLIENT_TO_FETCH_AWS_CREDENTIALS", "1"}});
  ASSERT_TRUE(b.ok()) << b.status().message();
  const auto& g = b->layered_runtime().layers(0).static_layer().fields();
  EXPECT_FALSE(g.at("envoy.reloadable_features.http_set_tracing_decision_in_request_id").bool_value());
  EXPECT_TRUE(g.at("envoy.reloadable_features.use_http_client_to_fetch_aws_credentials").bool_value());
  EXPECT_EQ(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}, {"ENVOY_NO_EXTENSION_LOOKUP_BY_NAME", "maybe"}})
                .status()
                .message(),
            "ENVOY_NO_EXTENSION_LOOKUP_BY_NAME environment variable (\"maybe\") must be a boolean value.");
}

TEST(BootstrapTest, RejectsMissingOrBadVariables) {
  EXPECT_EQ(makeBootstrap({}).status().kind(), ErrorKind::kBadRequest);
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}, {"APPMESH_XDS_ENDPOINT", "nohost"}}).ok());
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}, {"ENVOY_ADMIN_ACCESS_PORT", "70000"}}).ok());
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "virtualNode/x"}}).ok());
}

}  // namespace
}  // namespace meshd::xds
