#include "xds/diagnose.h"

#include <gtest/gtest.h>

#include "discovery/zones.h"

namespace meshd::xds {
namespace {

using nlohmann::json;

constexpr const char* kColors[] = {"red", "orange", "yellow", "green", "blue", "purple"};

// The walkthrough: red/orange/yellow registered over IPv4 only, green/blue/purple over both, as
// static DNS records (dns) or Cloud Map instances (cloud map).
World walkthrough(bool cloudMap, const std::string& meshPref) {
  World w;
  MeshResources& m = w.meshes["m"];
  m.name = "m";
  if (!meshPref.empty()) m.spec["serviceDiscovery"] = {{"ipPreference", meshPref}};
  m.virtualGateways["gw"] = json::object();
  w.registry.namespaces.push_back({{"Id", "ns-1"}, {"Name", "default.svc.cluster.local.cloud"}, {"Type", "HTTP"}});
  for (int i = 0; i < 6; ++i) {
    std::string color = kColors[i], vs = "colorteller-" + std::to_string(i + 1) + ".local";
    json sd = cloudMap ? json{{"awsCloudMap", {{"namespaceName", "default.svc.cluster.local.cloud"}, {"serviceName", color}}}}
                       : json{{"dns", {{"hostname", color + ".default.svc.cluster.local.dns"}}}};
    m.virtualNodes[color + "-vn"] = {{"serviceDiscovery", sd}};
    m.virtualServices[vs] = {{"provider", {{"virtualNode", {{"virtualNodeName", color + "-vn"}}}}}};
    m.gatewayRoutes["gw"][color] = {{"httpRoute", {{"action", {{"target", {{"virtualService", {{"virtualServiceName", vs}}}}}}}}}};
    json v4 = json::array({"198.18.0." + std::to_string(10 + i)});
    json v6 = i >= 3 ? json::array({"fd00::" + std::to_string(10 + i)}) : json::array();
    w.registry.staticRecords.push_back({{"Name", color + ".default.svc.cluster.local.dns"}, {"A", v4}, {"AAAA", v6}, {"TTL", 5}});
    w.registry.services.push_back({{"Id", "srv-" + color}, {"Name", color}, {"NamespaceId", "ns-1"}});
    json attrs = {{"AWS_INSTANCE_IPV4", v4[0]}};
    if (!v6.empty()) attrs["AWS_INSTANCE_IPV6"] = v6[0];
    w.registry.instances["srv-" + color] = {{{"Id", "t"}, {"Attributes", attrs}}};
  }
  return w;
}

std::string outcomes(bool cloudMap, const std::string& pref) {
  World w = walkthrough(cloudMap, pref);
  auto zones = discovery::buildZones(w.registry);
  std::map<std::string, std::string> byTarget;
  for (const Diagnosis& d : diagnose(w, *zones, "m", "gw")) byTarget[d.target] = d.outcome;
  std::string out;
  for (const char* c : kColors) out += byTarget[std::string(c) + "-vn"] + ";";
  return out;
}

// The service-discovery half of the walkthrough's table (the app half depends on the apps).
TEST(DiagnoseTest, WalkthroughServiceDiscoveryColumn) {
  const std::string sd = "service discovery";
  for (bool cloudMap : {false, true}) {
    SCOPED_TRACE(cloudMap ? "cloud map" : "dns");
    EXPECT_EQ(outcomes(cloudMap, "IPv4_ONLY"), "ok;ok;ok;ok;ok;ok;");
    EXPECT_EQ(outcomes(cloudMap, "IPv4_PREFERRED"), "ok;ok;ok;ok;ok;ok;");
    EXPECT_EQ(outcomes(cloudMap, "IPv6_ONLY"), sd + ";" + sd + ";" + sd + ";ok;ok;ok;");
    EXPECT_EQ(outcomes(cloudMap, "IPv6_PREFERRED"), "ok;ok;ok;ok;ok;ok;");
  }
  // No preference: DNS asks AAAA first, so dual-registered targets are reached over IPv6 while their
  // sidecars listen on 0.0.0.0 only; Cloud Map picks the IPv4 address.
  EXPECT_EQ(outcomes(false, ""), "ok;ok;ok;connection;connection;connection;");
  EXPECT_EQ(outcomes(true, ""), "ok;ok;ok;ok;ok;ok;");
}

TEST(DiagnoseTest, ExplainsAddressesAndTheAppFamily) {
  World w = walkthrough(true, "IPv6_ONLY");
  auto zones = discovery::buildZones(w.registry);
  for (const Diagnosis& d : diagnose(w, *zones, "m", "gw")) {
    if (d.target == "red-vn") {
      EXPECT_EQ(d.outcome, "service discovery");
      EXPECT_EQ(d.reasons[0], "service discovery: red-vn has no IPv6 address registered and its preference is IPv6_ONLY");
    }
    if (d.target == "green-vn") {
      EXPECT_EQ(d.address, "fd00::13");
      EXPECT_EQ(d.appAddress, "::1");
      EXPECT_EQ(d.sidecarBind, "::");
      EXPECT_NE(d.reasons[0].find("the sidecar will reach the app over ::1"), std::string::npos);
    }
  }
}

TEST(DiagnoseTest, NodeOverridePreferenceIsUsed) {
  World w = walkthrough(false, "IPv6_ONLY");
  w.meshes["m"].virtualNodes["red-vn"]["serviceDiscovery"]["dns"]["ipPreference"] = "IPv4_PREFERRED";
  auto zones = discovery::buildZones(w.registry);
  for (const Diagnosis& d : diagnose(w, *zones, "m")) {
    if (d.target == "red-vn") {
      EXPECT_EQ(d.outcome, "ok");
      EXPECT_EQ(d.address, "198.18.0.10");
      EXPECT_EQ(d.appAddress, "127.0.0.1");
    }
  }
}

}  // namespace
}  // namespace meshd::xds
