#include "model/kind.h"

#include <gtest/gtest.h>

namespace meshd::model {
namespace {

using nlohmann::json;

TEST(KindTest, ArnRoundTripsForEveryKind) {
  for (const Kind* k : allKinds()) {
    ResourceId id{k, "m", k->parent ? "p" : "", k->isMesh() ? "m" : "n"};
    std::string arn = arnOf(id, "us-west-2", "123456789012");
    std::string region, account;
    auto parsed = parseArn(arn, &region, &account);
    ASSERT_TRUE(parsed.has_value()) << arn;
    EXPECT_EQ(*parsed, id) << arn;
    EXPECT_EQ(region, "us-west-2");
    EXPECT_EQ(account, "123456789012");
  }
  EXPECT_EQ(arnOf({&kRoute, "m", "vr", "r"}, "r1", "1"), "arn:aws:appmesh:r1:1:mesh/m/virtualRouter/vr/route/r");
}

TEST(KindTest, ParseArnRejectsOtherShapes) {
  std::string r, a;
  for (const char* bad : {"arn:aws:ecs:r:1:mesh/m", "arn:aws:appmesh:r:1:mesh", "arn:aws:appmesh:r:1:mesh/m/route/r",
                          "arn:aws:appmesh:r:1:mesh/m/virtualGateway/g/route/r", "arn:aws:appmesh:r:1:mesh//virtualNode/n"}) {
    EXPECT_FALSE(parseArn(bad, &r, &a).has_value()) << bad;
  }
}

TEST(KindTest, ReferencesOfServicesRoutesAndGatewayRoutes) {
  auto vs = references({&kVirtualService, "m", "", "s"},
                       {{"provider", {{"virtualRouter", {{"virtualRouterName", "vr"}}}}}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0], (ResourceId{&kVirtualRouter, "m", "", "vr"}));
  auto route = references({&kRoute, "m", "vr", "r"},
                          json::parse(R"({"httpRoute": {"action": {"weightedTargets": [
                             {"virtualNode": "a", "weight": 1}, {"virtualNode": "b", "weight": 1}]}}})"));
  ASSERT_EQ(route.size(), 2u);
  EXPECT_EQ(route[1].name, "b");
  auto gr = references({&kGatewayRoute, "m", "vg", "g"},
                       json::parse(R"({"httpRoute": {"action": {"target": {"virtualService":
                          {"virtualServiceName": "svc"}}}}})"));
  ASSERT_EQ(gr.size(), 1u);
  EXPECT_EQ(gr[0], (ResourceId{&kVirtualService, "m", "", "svc"}));
}

TEST(KindTest, RouteNeedsExactlyOneProtocol) {
  EXPECT_EQ(checkSpec({&kRoute, "m", "vr", "r"}, json::object()).kind(), ErrorKind::kBadRequest);
  EXPECT_TRUE(checkSpec({&kRoute, "m", "vr", "r"}, {{"tcpRoute", json::object()}}).ok());
  EXPECT_FALSE(checkSpec({&kGatewayRoute, "m", "vg", "g"}, {{"tcpRoute", json::object()}}).ok());
}

TEST(KindTest, DescribeNamesTheResource) {
  EXPECT_EQ((ResourceId{&kRoute, "m", "vr", "r"}).describe(), "route r of virtual router vr in mesh m");
  EXPECT_EQ((ResourceId{&kVirtualNode, "m", "", "n"}).describe(), "virtual node n in mesh m");
}

}  // namespace
}  // namespace meshd::model
