#include "discovery/cloudmap_service.h"

#include <gtest/gtest.h>

#include "store/testing/temp_store.h"

#include "model/service_model.h"

namespace meshd::discovery {
namespace {

using nlohmann::json;

class CloudMapServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<CloudMapService>(*store_, CloudMapConfig{"us-west-2", "123456789012", nullptr});
  }
  void TearDown() override {
    service_.reset();
  }
  StatusOr<json> call(const std::string& op, json input) {
    return service_->call(*model::ServiceModel::cloudMap().operation(op), input);
  }
  json ok(const std::string& op, json input) {
    auto r = call(op, std::move(input));
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().message();
    return r.ok() ? *r : json();
  }
  std::string errorType(const std::string& op, json input) { return call(op, std::move(input)).status().type(); }

  // A private DNS namespace with one service whose records are `types`; returns the service id.
  std::string dnsService(std::vector<std::string> types, json extra = json::object()) {
    ok("CreatePrivateDnsNamespace", {{"Name", "ns.local"}, {"Vpc", "vpc-1"}});
    std::string nsId = ok("ListNamespaces", json::object())["Namespaces"][0]["Id"];
    json records = json::array();
    for (const auto& t : types) records.push_back({{"Type", t}, {"TTL", 60}});
    json in = {{"Name", "svc"}, {"NamespaceId", nsId}, {"DnsConfig", {{"DnsRecords", records}}}};
    in.update(extra);
    return ok("CreateService", in)["Service"]["Id"];
  }

  store::testing::TempStore store_;
  std::unique_ptr<CloudMapService> service_;
};

TEST_F(CloudMapServiceTest, NamespaceLifecycleWithOperations) {
  std::string opId = ok("CreateHttpNamespace", {{"Name", "http-ns"}})["OperationId"];
  json op = ok("GetOperation", {{"OperationId", opId}})["Operation"];
  EXPECT_EQ(op["Type"], "CREATE_NAMESPACE");
  EXPECT_EQ(op["Status"], "SUCCESS");
  std::string nsId = op["Targets"]["NAMESPACE"];
  json ns = ok("GetNamespace", {{"Id", nsId}})["Namespace"];
  EXPECT_EQ(ns["Type"], "HTTP");
  EXPECT_EQ(ns["ServiceCount"], 0);
  EXPECT_EQ(ns["Arn"], "arn:aws:servicediscovery:us-west-2:123456789012:namespace/" + nsId);
  EXPECT_EQ(errorType("CreateHttpNamespace", {{"Name", "http-ns"}}), "NamespaceAlreadyExists");
  ok("DeleteNamespace", {{"Id", nsId}});
  EXPECT_EQ(errorType("GetNamespace", {{"Id", nsId}}), "NamespaceNotFound");
}

TEST_F(CloudMapServiceTest, CreatorRequestIdMakesCreateIdempotent) {
  std::string first = ok("CreateHttpNamespace", {{"Name", "n"}, {"CreatorRequestId", "c1"}})["OperationId"];
  EXPECT_EQ(ok("CreateHttpNamespace", {{"Name", "n"}, {"CreatorRequestId", "c1"}})["OperationId"], first);
}

TEST_F(CloudMapServiceTest, RecordTypesDecideRequiredAttributes) {
  std::string svc = dnsService({"A"});
  EXPECT_EQ(errorType("RegisterInstance", {{"ServiceId", svc}, {"InstanceId", "i"}, {"Attributes", {{"AWS_INSTANCE_IPV6", "fd00::1"}}}}),
            "InvalidInput");
  EXPECT_EQ(errorType("RegisterInstance", {{"ServiceId", svc}, {"InstanceId", "i"}, {"Attributes", {{"AWS_INSTANCE_IPV4", "300.1.1.1"}}}}),
            "InvalidInput");
  ok("RegisterInstance", {{"ServiceId", svc}, {"InstanceId", "i"}, {"Attributes", {{"AWS_INSTANCE_IPV4", "198.18.0.2"}}}});
  EXPECT_EQ(ok("GetService", {{"Id", svc}})["Service"]["InstanceCount"], 1);
  EXPECT_EQ(errorType("DeleteService", {{"Id", svc}}), "ResourceInUse");
}

TEST_F(CloudMapServiceTest, ServiceRecordCombinationsFollowCloudMap) {
  ok("CreatePrivateDnsNamespace", {{"Name", "ns.local"}, {"Vpc", "vpc-1"}});
  std::string nsId = ok("ListNamespaces", json::object())["Namespaces"][0]["Id"];
  auto create = [&](json records, std::string policy = "MULTIVALUE") {
    static int n = 0;
    return errorType("CreateService", {{"Name", "s" + std::to_string(n++)}, {"NamespaceId", nsId},
                                       {"DnsConfig", {{"RoutingPolicy", policy}, {"DnsRecords", records}}}});
  };
  EXPECT_EQ(create({{{"Type", "A"}, {"TTL", 1}}, {{"Type", "AAAA"}, {"TTL", 1}}}), "");
  EXPECT_EQ(create({{{"Type", "A"}, {"TTL", 1}}, {{"Type", "A"}, {"TTL", 2}}}), "InvalidInput");
  EXPECT_EQ(create({{{"Type", "SRV"}, {"TTL", 1}}, {{"Type", "CNAME"}, {"TTL", 2}}}), "InvalidInput");
  EXPECT_EQ(create({{{"Type", "CNAME"}, {"TTL", 1}}}), "InvalidInput");
  EXPECT_EQ(create({{{"Type", "CNAME"}, {"TTL", 1}}}, "WEIGHTED"), "");
}

TEST_F(CloudMapServiceTest, DiscoveryFiltersByHealthAndAttributes) {
  std::string svc = dnsService({"A"}, {{"HealthCheckCustomConfig", json::object()}});
  for (auto [id, ip, zone] : {std::tuple{"a", "198.18.0.1", "z1"}, {"b", "198.18.0.2", "z2"}, {"c", "198.18.0.3", "z1"}}) {
    ok("RegisterInstance", {{"ServiceId", svc}, {"InstanceId", id},
                            {"Attributes", {{"AWS_INSTANCE_IPV4", ip}, {"zone", zone}}}});
  }
  ok("UpdateInstanceCustomHealthStatus", {{"ServiceId", svc}, {"InstanceId", "c"}, {"Status", "UNHEALTHY"}});
  json base = {{"NamespaceName", "ns.local"}, {"ServiceName", "svc"}};
  auto ids = [&](json extra) {
    json in = base;
    if (extra.is_object()) in.update(extra);
    std::vector<std::string> out;
    json found = ok("DiscoverInstances", in);
    for (const json& i : found["Instances"]) out.push_back(i["InstanceId"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(ids({}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ids({{"HealthStatus", "ALL"}}), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ids({{"HealthStatus", "UNHEALTHY"}}), (std::vector<std::string>{"c"}));
  EXPECT_EQ(ids({{"QueryParameters", {{"zone", "z1"}}}}), (std::vector<std::string>{"a"}));
  EXPECT_EQ(ids({{"OptionalParameters", {{"zone", "z2"}}}}), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ids({{"OptionalParameters", {{"zone", "z9"}}}}), (std::vector<std::string>{"a", "b"}));
  json health = ok("GetInstancesHealthStatus", {{"ServiceId", svc}})["Status"];
  EXPECT_EQ(health["c"], "UNHEALTHY");
  EXPECT_EQ(health["a"], "HEALTHY");
}

TEST_F(CloudMapServiceTest, InstancesRevisionMovesWithEveryChange) {
  std::string svc = dnsService({"A"});
  json q = {{"NamespaceName", "ns.local"}, {"ServiceName", "svc"}};
  int64_t r0 = ok("DiscoverInstances", q)["InstancesRevision"];
  ok("RegisterInstance", {{"ServiceId", svc}, {"InstanceId", "a"}, {"Attributes", {{"AWS_INSTANCE_IPV4", "198.18.0.1"}}}});
  int64_t r1 = ok("DiscoverInstances", q)["InstancesRevision"];
  ok("DeregisterInstance", {{"ServiceId", svc}, {"InstanceId", "a"}});
  int64_t r2 = ok("DiscoverInstances", q)["InstancesRevision"];
  EXPECT_LT(r0, r1);
  EXPECT_LT(r1, r2);
  EXPECT_EQ(ok("DiscoverInstancesRevision", q)["InstancesRevision"], r2);
}

TEST_F(CloudMapServiceTest, TagsByArn) {
  std::string svc = dnsService({"A"});
  std::string arn = ok("GetService", {{"Id", svc}})["Service"]["Arn"];
  ok("TagResource", {{"ResourceARN", arn}, {"Tags", {{{"Key", "team"}, {"Value", "color"}}}}});
  EXPECT_EQ(ok("ListTagsForResource", {{"ResourceARN", arn}})["Tags"].size(), 1u);
  ok("UntagResource", {{"ResourceARN", arn}, {"TagKeys", {"team"}}});
  EXPECT_TRUE(ok("ListTagsForResource", {{"ResourceARN", arn}})["Tags"].empty());
  EXPECT_EQ(errorType("ListTagsForResource", {{"ResourceARN", arn + "x"}}), "ResourceNotFoundException");
}

}  // namespace
}  // namespace meshd::discovery
