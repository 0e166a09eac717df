#include "model/validate.h"

#include <gtest/gtest.h>

#include <functional>

namespace meshd::model {
namespace {

using nlohmann::json;

const ServiceModel& am() { return ServiceModel::appMesh(); }

// A minimal valid value for `shape`: required members (and a union's first member), the smallest
// lengths and values the constraints allow, the first enum value.
json example(const Shape& shape, int depth = 0) {
  switch (shape.type) {
    case Shape::Type::kStructure: {
      json o = json::object();
      for (const Member& m : shape.members) {
        bool needed = shape.required.count(m.name) || (shape.isUnion && o.empty() && depth < 12);
        if (needed) o[m.name] = example(*m.shape, depth + 1);
      }
      return o;
    }
    case Shape::Type::kList: {
      json a = json::array();
      for (int64_t i = 0; i < shape.min.value_or(0); ++i) a.push_back(example(*shape.member, depth + 1));
      return a;
    }
    case Shape::Type::kMap:
      return json::object();
    case Shape::Type::kString:
      if (!shape.enumValues.empty()) return shape.enumValues.front();
      return std::string(static_cast<size_t>(std::max<int64_t>(shape.min.value_or(1), 1)), 'a');
    case Shape::Type::kInteger:
    case Shape::Type::kLong:
      return shape.min.value_or(1);
    case Shape::Type::kDouble:
      return 1.5;
    case Shape::Type::kBoolean:
      return true;
    case Shape::Type::kTimestamp:
      return 1700000000;
    case Shape::Type::kBlob:
      return "YQ==";
  }
  return nullptr;
}

std::vector<const Shape*> inputShapes() {
  std::vector<const Shape*> out;
  for (const Operation& op : am().operations()) out.push_back(op.input);
  return out;
}

// Visits every (structure, member) reachable from `shape`, once per structure.
void forEachMember(const Shape& shape, std::set<const Shape*>& seen,
                   const std::function<void(const Shape&, const Member&)>& fn) {
  if (!seen.insert(&shape).second) return;
  if (shape.member) forEachMember(*shape.member, seen, fn);
  for (const Member& m : shape.members) {
    fn(shape, m);
    forEachMember(*m.shape, seen, fn);
  }
}

TEST(ValidateTest, MinimalExampleOfEveryShapeIsValid) {
  std::set<const Shape*> seen;
  for (const Shape* in : inputShapes()) {
    forEachMember(*in, seen, [](const Shape& s, const Member& m) {
      Status st = validate(*m.shape, example(*m.shape), m.name);
      EXPECT_TRUE(st.ok()) << s.name << "." << m.name << ": " << st.message();
    });
  }
  EXPECT_GT(seen.size(), 150u);  // the App Mesh model has ~200 structures and lists
}

TEST(ValidateTest, EveryRequiredMemberIsEnforcedAndNamed) {
  std::set<const Shape*> seen;
  int checked = 0;
  for (const Shape* in : inputShapes()) {
    forEachMember(*in, seen, [&](const Shape& s, const Member& m) {
      if (!s.required.count(m.name)) return;
      json v = example(s);
      v.erase(m.name);
      Status st = validate(s, v, "x");
      ASSERT_EQ(st.kind(), ErrorKind::kBadRequest) << s.name << "." << m.name;
      EXPECT_EQ(st.message(), "x." + m.name + ": required field is missing");
      ++checked;
    });
  }
  EXPECT_GT(checked, 100);
}

TEST(ValidateTest, EveryRangeAndEnumIsEnforced) {
  std::set<const Shape*> seen;
  int checked = 0;
  for (const Shape* in : inputShapes()) {
    forEachMember(*in, seen, [&](const Shape&, const Member& m) {
      const Shape& t = *m.shape;
      bool number = t.type == Shape::Type::kInteger || t.type == Shape::Type::kLong;
      if (number && t.min) {
        EXPECT_FALSE(validate(t, *t.min - 1, m.name).ok()) << t.name;
        ++checked;
      }
      if (number && t.max) {
        EXPECT_FALSE(validate(t, *t.max + 1, m.name).ok()) << t.name;
        ++checked;
      }
      if (t.type == Shape::Type::kString && !t.enumValues.empty()) {
        std::string lower = t.enumValues.front();
        for (char& c : lower) c = static_cast<char>(std::tolower(c));
        if (lower != t.enumValues.front()) {
          EXPECT_FALSE(validate(t, lower, m.name).ok()) << t.name;
        }
        EXPECT_FALSE(validate(t, "NOT_A_VALUE", m.name).ok()) << t.name;
        ++checked;
      }
      if (t.type == Shape::Type::kList && t.max) {
        json too_many = json::array();
        for (int64_t i = 0; i <= *t.max; ++i) too_many.push_back(example(*t.member));
        EXPECT_FALSE(validate(t, too_many, m.name).ok()) << t.name;
        ++checked;
      }
    });
  }
  EXPECT_GT(checked, 50);
}

TEST(ValidateTest, UnionsNeedExactlyOneMember) {
  const Shape& sd = *am().shape("ServiceDiscovery");
  EXPECT_TRUE(validate(sd, {{"dns", {{"hostname", "a.b"}}}}).ok());
  Status none = validate(sd, json::object(), "spec.serviceDiscovery");
  EXPECT_EQ(none.message(), "spec.serviceDiscovery: exactly one of awsCloudMap, dns must be set");
  EXPECT_FALSE(validate(sd, {{"dns", {{"hostname", "a"}}},
                             {"awsCloudMap", {{"namespaceName", "n"}, {"serviceName", "s"}}}})
                   .ok());
}

TEST(ValidateTest, UnknownFieldIsNamed) {
  json in = {{"meshName", "m"}, {"spec", {{"egressFilter", {{"type", "ALLOW_ALL"}}}, {"bogus", 1}}}};
  Status st = validate(*am().shape("CreateMeshInput"), in);
  EXPECT_EQ(st.kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(st.message(), "spec.bogus: unknown field");
}

struct Case {
  const char* name;
  const char* shape;
  const char* json;
  const char* error;  // nullptr: valid
};

class VirtualNodeSpecTest : public ::testing::TestWithParam<Case> {};

TEST_P(VirtualNodeSpecTest, Validates) {
  const Case& c = GetParam();
  Status st = validate(*am().shape(c.shape), json::parse(c.json), "spec");
  if (c.error == nullptr) {
    EXPECT_TRUE(st.ok()) << st.message();
  } else {
    EXPECT_EQ(st.message(), c.error);
  }
}

constexpr const char* kRedVn = R"({
  "listeners": [{"portMapping": {"port": 9080, "protocol": "http"},
                 "healthCheck": {"protocol": "http", "path": "/ping", "healthyThreshold": 2,
                                 "unhealthyThreshold": 2, "intervalMillis": 5000, "timeoutMillis": 2000}}],
  "serviceDiscovery": {"dns": {"hostname": "colorteller-red.default.svc.cluster.local.dns",
                               "ipPreference": "IPv4_ONLY"}}})";

const std::string kLongName = R"({"virtualNodeName": ")" + std::string(256, 'n') + "\"}";

INSTANTIATE_TEST_SUITE_P(
    Shapes, VirtualNodeSpecTest,
    ::testing::Values(
        Case{"walkthrough_node", "VirtualNodeSpec", kRedVn, nullptr},
        Case{"cloud_map", "VirtualNodeSpec",
             R"({"serviceDiscovery": {"awsCloudMap": {"namespaceName": "default.svc.cluster.local.cloud",
                 "serviceName": "colorteller-red", "ipPreference": "IPv6_PREFERRED"}}})",
             nullptr},
        Case{"ip_preference_case", "VirtualNodeSpec",
             R"({"serviceDiscovery": {"dns": {"hostname": "h", "ipPreference": "ipv6_only"}}})",
             "spec.serviceDiscovery.dns.ipPreference: 'ipv6_only' is not one of IPv6_PREFERRED, "
             "IPv4_PREFERRED, IPv4_ONLY, IPv6_ONLY"},
        Case{"interval_too_small", "Listener",
             R"({"portMapping": {"port": 9080, "protocol": "http"}, "healthCheck": {"protocol": "http",
                 "healthyThreshold": 2, "unhealthyThreshold": 2, "intervalMillis": 1000, "timeoutMillis": 2000}})",
             "spec.healthCheck.intervalMillis: 1000 is less than the minimum 5000"},
        Case{"healthy_threshold_too_big", "HealthCheckPolicy",
             R"({"protocol": "tcp", "healthyThreshold": 11, "unhealthyThreshold": 2,
                 "intervalMillis": 5000, "timeoutMillis": 2000})",
             "spec.healthyThreshold: 11 is greater than the maximum 10"},
        Case{"timeout_too_big", "HealthCheckPolicy",
             R"({"protocol": "tcp", "healthyThreshold": 2, "unhealthyThreshold": 2,
                 "intervalMillis": 5000, "timeoutMillis": 60001})",
             "spec.timeoutMillis: 60001 is greater than the maximum 60000"},
        Case{"port_too_big", "PortMapping", R"({"port": 70000, "protocol": "http"})",
             "spec.port: 70000 is greater than the maximum 65535"},
        Case{"port_zero", "PortMapping", R"({"port": 0, "protocol": "http"})",
             "spec.port: 0 is less than the minimum 1"},
        Case{"protocol_case", "PortMapping", R"({"port": 80, "protocol": "HTTP2"})",
             "spec.protocol: 'HTTP2' is not one of http, tcp, http2, grpc"},
        Case{"port_as_string", "PortMapping", R"({"port": "80", "protocol": "http"})",
             "spec.port: expected an integer"},
        Case{"egress_filter", "MeshSpec", R"({"egressFilter": {"type": "allow_all"}})",
             "spec.egressFilter.type: 'allow_all' is not one of ALLOW_ALL, DROP_ALL"},
        Case{"weight_too_big", "WeightedTarget", R"({"virtualNode": "n", "weight": 101})",
             "spec.weight: 101 is greater than the maximum 100"},
        Case{"priority_too_big", "RouteSpec",
             R"({"priority": 1001, "tcpRoute": {"action": {"weightedTargets": [{"virtualNode": "n", "weight": 1}]}}})",
             "spec.priority: 1001 is greater than the maximum 1000"},
        Case{"no_targets", "HttpRouteAction", R"({"weightedTargets": []})",
             "spec.weightedTargets: must have at least 1 items"},
        Case{"empty_name", "VirtualNodeServiceProvider", R"({"virtualNodeName": ""})",
             "spec.virtualNodeName: must have at least 1 characters"},
        Case{"long_name", "VirtualNodeServiceProvider",
             kLongName.c_str(),
             "spec.virtualNodeName: must have at most 255 characters"},
        Case{"gateway_route_rewrite", "HttpGatewayRoute",
             R"({"match": {"prefix": "/red"}, "action": {"target": {"virtualService":
                 {"virtualServiceName": "colorteller-1.default.svc.cluster.local"}},
                 "rewrite": {"prefix": {"defaultPrefix": "ENABLED"}}}})",
             nullptr},
        Case{"header_match_union", "HttpRouteHeader", R"({"name": "x", "match": {}})",
             "spec.match: exactly one of exact, prefix, range, regex, suffix must be set"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace meshd::model
