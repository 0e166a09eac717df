#include "cli/commands.h"

#include <gtest/gtest.h>

namespace meshd::cli {
namespace {

using nlohmann::json;

TEST(CommandsTest, KindAliasesFollowKubectlHabits) {
  EXPECT_EQ(kindFromUser("vn"), &model::kVirtualNode);
  EXPECT_EQ(kindFromUser("virtual-nodes"), &model::kVirtualNode);
  EXPECT_EQ(kindFromUser("VirtualGateway"), &model::kVirtualGateway);
  EXPECT_EQ(kindFromUser("meshes"), &model::kMesh);
  EXPECT_EQ(kindFromUser("gatewayroutes"), &model::kGatewayRoute);
  EXPECT_EQ(kindFromUser("pods"), nullptr);
}

TEST(CommandsTest, DocumentKindIsTheMostSpecificNameField) {
  EXPECT_EQ(kindOfDocument({{"meshName", "m"}}), &model::kMesh);
  EXPECT_EQ(kindOfDocument({{"meshName", "m"}, {"virtualRouterName", "vr"}, {"routeName", "r"}}), &model::kRoute);
  EXPECT_EQ(kindOfDocument({{"meshName", "m"}, {"virtualGatewayName", "g"}}), &model::kVirtualGateway);
  EXPECT_EQ(kindOfDocument(json::array()), nullptr);
}

TEST(CommandsTest, TableHasOneRowPerItem) {
  json items = json::parse(R"([{"meshName": "m", "virtualRouterName": "vr", "routeName": "r", "version": 3,
                                "lastUpdatedAt": 0}])");
  std::string t = renderTable(model::kRoute, items);
  EXPECT_EQ(t,
            "NAME   MESH   ROUTER   VERSION   STATUS   UPDATED\n"
            "r      m      vr       3         ACTIVE   1970-01-01T00:00:00Z\n");
}

}  // namespace
}  // namespace meshd::cli
