#include "api/appmesh_service.h"

#include <gtest/gtest.h>

#include "store/testing/temp_store.h"

namespace meshd::api {
namespace {

using nlohmann::json;

class AppMeshServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppMeshConfig config;
    config.now = [this] { return clock_; };
    config.quotas.limits["meshes"] = 3;
    service_ = std::make_unique<AppMeshService>(*store_, config);
  }
  void TearDown() override {
    service_.reset();
  }
  StatusOr<json> call(const std::string& op, json input) {
    return service_->call(*model::ServiceModel::appMesh().operation(op), input);
  }
  json ok(const std::string& op, json input) {
    auto r = call(op, std::move(input));
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().message();
    return r.ok() ? *r : json();
  }
  ErrorKind err(const std::string& op, json input) { return call(op, std::move(input)).status().kind(); }

  void node(const std::string& name) {
    ok("CreateVirtualNode", {{"meshName", "m"}, {"virtualNodeName", name}, {"spec", json::object()}});
  }

  store::testing::TempStore store_;
  std::unique_ptr<AppMeshService> service_;
  double clock_ = 1700000000.5;
};

TEST_F(AppMeshServiceTest, CreateDescribeUpdateBumpsVersion) {
  json created = ok("CreateMesh", {{"meshName", "m"}})["mesh"];
  EXPECT_EQ(created["metadata"]["version"], 1);
  EXPECT_EQ(created["metadata"]["arn"], "arn:aws:appmesh:us-west-2:123456789012:mesh/m");
  EXPECT_EQ(created["spec"]["egressFilter"]["type"], "DROP_ALL");
  EXPECT_EQ(created["status"]["status"], "ACTIVE");
  clock_ += 10;
  json updated = ok("UpdateMesh", {{"meshName", "m"}, {"spec", {{"serviceDiscovery", {{"ipPreference", "IPv6_ONLY"}}}}}})["mesh"];
  EXPECT_EQ(updated["metadata"]["version"], 2);
  EXPECT_EQ(updated["metadata"]["createdAt"], 1700000000.5);
  EXPECT_EQ(updated["metadata"]["lastUpdatedAt"], 1700000010.5);
  EXPECT_EQ(updated["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(ok("DescribeMesh", {{"meshName", "m"}})["mesh"], updated);
}

TEST_F(AppMeshServiceTest, SecondCreateConflictsAndMissingIsNotFound) {
  ok("CreateMesh", {{"meshName", "m"}});
  EXPECT_EQ(err("CreateMesh", {{"meshName", "m"}}), ErrorKind::kConflict);
  EXPECT_EQ(err("DescribeMesh", {{"meshName", "x"}}), ErrorKind::kNotFound);
  EXPECT_EQ(err("CreateVirtualNode", {{"meshName", "x"}, {"virtualNodeName", "n"}, {"spec", json::object()}}),
            ErrorKind::kNotFound);
}

TEST_F(AppMeshServiceTest, ReferencesMustExistAndBlockDeletion) {
  ok("CreateMesh", {{"meshName", "m"}});
  json vs = {{"meshName", "m"}, {"virtualServiceName", "s"},
             {"spec", {{"provider", {{"virtualNode", {{"virtualNodeName", "n"}}}}}}}};
  EXPECT_EQ(err("CreateVirtualService", vs), ErrorKind::kNotFound);
  node("n");
  ok("CreateVirtualService", vs);
  EXPECT_EQ(err("DeleteVirtualNode", {{"meshName", "m"}, {"virtualNodeName", "n"}}), ErrorKind::kResourceInUse);
  EXPECT_EQ(err("DeleteMesh", {{"meshName", "m"}}), ErrorKind::kResourceInUse);
  json deleted = ok("DeleteVirtualService", {{"meshName", "m"}, {"virtualServiceName", "s"}});
  EXPECT_EQ(deleted["virtualService"]["status"]["status"], "DELETED");
  ok("DeleteVirtualNode", {{"meshName", "m"}, {"virtualNodeName", "n"}});
  ok("DeleteMesh", {{"meshName", "m"}});
}

TEST_F(AppMeshServiceTest, RoutersWithRoutesAreInUse) {
  ok("CreateMesh", {{"meshName", "m"}});
  node("a");
  ok("CreateVirtualRouter", {{"meshName", "m"}, {"virtualRouterName", "vr"}, {"spec", json::object()}});
  json route = {{"meshName", "m"}, {"virtualRouterName", "vr"}, {"routeName", "r"},
                {"spec", {{"tcpRoute", {{"action", {{"weightedTargets", {{{"virtualNode", "a"}, {"weight", 1}}}}}}}}}}};
  ok("CreateRoute", route);
  EXPECT_EQ(err("DeleteVirtualRouter", {{"meshName", "m"}, {"virtualRouterName", "vr"}}), ErrorKind::kResourceInUse);
  EXPECT_EQ(err("DeleteVirtualNode", {{"meshName", "m"}, {"virtualNodeName", "a"}}), ErrorKind::kResourceInUse);
  json listed = ok("ListRoutes", {{"meshName", "m"}, {"virtualRouterName", "vr"}});
  ASSERT_EQ(listed["routes"].size(), 1u);
  EXPECT_EQ(listed["routes"][0]["routeName"], "r");
  EXPECT_EQ(listed["routes"][0]["virtualRouterName"], "vr");
  EXPECT_EQ(listed["routes"][0]["arn"], "arn:aws:appmesh:us-west-2:123456789012:mesh/m/virtualRouter/vr/route/r");
}

TEST_F(AppMeshServiceTest, PaginatesWithOpaqueTokens) {
  ok("CreateMesh", {{"meshName", "m"}});
  for (auto n : {"a", "b", "c", "d", "e"}) node(n);
  std::vector<std::string> seen;
  json input = {{"meshName", "m"}, {"limit", 2}};
  for (int pages = 0; pages < 5; ++pages) {
    json page = ok("ListVirtualNodes", input);
    for (const json& ref : page["virtualNodes"]) seen.push_back(ref["virtualNodeName"]);
    if (!page.contains("nextToken")) break;
    input["nextToken"] = page["nextToken"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(err("ListVirtualNodes", {{"meshName", "m"}, {"nextToken", "garbage!"}}), ErrorKind::kBadRequest);
}

TEST_F(AppMeshServiceTest, ClientTokenReplaysAndDetectsReuse) {
  json first = ok("CreateMesh", {{"meshName", "m"}, {"clientToken", "t1"}});
  EXPECT_EQ(ok("CreateMesh", {{"meshName", "m"}, {"clientToken", "t1"}}), first);
  EXPECT_EQ(err("CreateMesh", {{"meshName", "m"}, {"clientToken", "t1"},
                               {"spec", {{"egressFilter", {{"type", "ALLOW_ALL"}}}}}}),
            ErrorKind::kConflict);
  EXPECT_EQ(err("CreateMesh", {{"meshName", "other"}, {"clientToken", "t1"}}), ErrorKind::kConflict);
  json u = {{"meshName", "m"}, {"clientToken", "t2"}, {"spec", json::object()}};
  EXPECT_EQ(ok("UpdateMesh", u)["mesh"]["metadata"]["version"], 2);
  EXPECT_EQ(ok("UpdateMesh", u)["mesh"]["metadata"]["version"], 2);  // replayed, not applied twice
}

TEST_F(AppMeshServiceTest, QuotaOfMeshesIsEnforced) {
  for (auto m : {"a", "b", "c"}) ok("CreateMesh", {{"meshName", m}});
  EXPECT_EQ(err("CreateMesh", {{"meshName", "d"}}), ErrorKind::kLimitExceeded);
}

TEST_F(AppMeshServiceTest, TagsAreMergedRemovedAndLimited) {
  std::string arn = ok("CreateMesh", {{"meshName", "m"}, {"tags", {{{"key", "a"}, {"value", "1"}}}}})["mesh"]["metadata"]["arn"];
  ok("TagResource", {{"resourceArn", arn}, {"tags", {{{"key", "a"}, {"value", "2"}}, {{"key", "b"}, {"value", "3"}}}}});
  json tags = ok("ListTagsForResource", {{"resourceArn", arn}})["tags"];
  EXPECT_EQ(tags, json::parse(R"([{"key":"a","value":"2"},{"key":"b","value":"3"}])"));
  ok("UntagResource", {{"resourceArn", arn}, {"tagKeys", {"a"}}});
  EXPECT_EQ(ok("ListTagsForResource", {{"resourceArn", arn}})["tags"].size(), 1u);
  json many = json::array();
  for (int i = 0; i < 50; ++i) many.push_back({{"key", "k" + std::to_string(i)}, {"value", ""}});
  EXPECT_EQ(err("TagResource", {{"resourceArn", arn}, {"tags", many}}), ErrorKind::kTooManyTags);
  EXPECT_EQ(err("ListTagsForResource", {{"resourceArn", "arn:aws:appmesh:us-west-2:123456789012:mesh/zz"}}),
            ErrorKind::kNotFound);
  EXPECT_EQ(ok("DescribeMesh", {{"meshName", "m"}})["mesh"]["metadata"]["version"], 1);
}

TEST_F(AppMeshServiceTest, ForeignMeshOwnerIsNotFound) {
  ok("CreateMesh", {{"meshName", "m"}});
  EXPECT_EQ(err("CreateVirtualNode", {{"meshName", "m"}, {"meshOwner", "999999999999"},
                                      {"virtualNodeName", "n"}, {"spec", json::object()}}),
            ErrorKind::kNotFound);
  ok("CreateVirtualNode", {{"meshName", "m"}, {"meshOwner", "123456789012"}, {"virtualNodeName", "n"},
                           {"spec", json::object()}});
}

}  // namespace
}  // namespace meshd::api
