#include "xds/bootstrap.h"

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

TEST(BootstrapTest, RejectsMissingOrBadVariables) {
  EXPECT_EQ(makeBootstrap({}).status().kind(), ErrorKind::kBadRequest);
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}, {"APPMESH_XDS_ENDPOINT", "nohost"}}).ok());
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "mesh/m/virtualNode/x"}, {"ENVOY_ADMIN_ACCESS_PORT", "70000"}}).ok());
  EXPECT_FALSE(makeBootstrap({{"APPMESH_RESOURCE_ARN", "virtualNode/x"}}).ok());
}

}  // namespace
}  // namespace meshd::xds
