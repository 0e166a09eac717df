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

// The app half comes from the gateway's health checks of each target (through its sidecar to its
// app): under IPv4_ONLY, yellow's and purple's apps refuse 127.0.0.1, so their checks fail.
TEST(DiagnoseTest, FailingHealthCheckOfAReachableTargetIsAnApplicationFailure) {
  World w = walkthrough(false, "IPv4_ONLY");
  for (auto& [name, spec] : w.meshes["m"].virtualNodes) spec["listeners"] = {{{"healthCheck", {{"path", "/ping"}}}}};
  auto zones = discovery::buildZones(w.registry);
  ClusterHealth gateway = parseClusters(
      "cds_egress_m_red-vn_http_9080::198.18.0.10:9080::health_flags::healthy\n"
      "cds_egress_m_red-vn_http_9080::198.18.0.10:9080::cx_active::0\n"
      "cds_egress_m_yellow-vn_http_9080::198.18.0.12:9080::health_flags::/failed_active_hc\n"
      "cds_egress_m_purple-vn_http_9080::198.18.0.15:9080::health_flags::/failed_active_hc/pending_active_hc\n");
  ASSERT_EQ(gateway.size(), 3u);
  std::map<std::string, Diagnosis> byTarget;
  for (Diagnosis& d : diagnose(w, *zones, "m", "gw", {{"mesh/m/virtualGateway/gw", gateway}})) byTarget[d.target] = d;
  EXPECT_EQ(byTarget["red-vn"].outcome, "ok");
  EXPECT_EQ(byTarget["red-vn"].health, "passing");
  EXPECT_EQ(byTarget["yellow-vn"].outcome, "application");
  EXPECT_EQ(byTarget["yellow-vn"].reasons[0],
            "application: the health check of yellow-vn fails: its app does not accept IPv4 (127.0.0.1)");
  EXPECT_EQ(byTarget["purple-vn"].outcome, "ok");  // not checked yet: no verdict
  EXPECT_EQ(byTarget["purple-vn"].health, "pending");
  EXPECT_EQ(byTarget["green-vn"].health, "");  // nothing reported for it
}

TEST(DiagnoseTest, ParsesIpv6HostsInAdminClusters) {
  ClusterHealth h = parseClusters("c::[fd00::1]:9080::health_flags::healthy\nc::fd00::2:9080::health_flags::/failed_active_hc");
  ASSERT_EQ(h["c"].size(), 2u);
  EXPECT_EQ(h["c"][0].address, "[fd00::1]:9080");
  EXPECT_EQ(h["c"][1].address, "fd00::2:9080");
  EXPECT_EQ(h["c"][1].flags, "/failed_active_hc");
}

// App Mesh TLS settings meshd does not translate yet are said, not silently dropped.
TEST(DiagnoseTest, SaysThatConfiguredTlsIsNotProvided) {
  World w = walkthrough(false, "IPv4_ONLY");
  MeshResources& m = w.meshes["m"];
  m.virtualNodes["red-vn"]["listeners"] = json::array({{{"portMapping", {{"port", 8080}, {"protocol", "http"}}},
                                                        {"tls", {{"mode", "STRICT"}}}}});
  m.virtualNodes["orange-vn"]["listeners"] = json::array({{{"portMapping", {{"port", 8080}, {"protocol", "http"}}},
                                                           {"tls", {{"mode", "DISABLED"}}}}});
  m.virtualGateways["gw"]["backendDefaults"] = {{"clientPolicy", {{"tls", {{"enforce", true}}}}}};
  auto zones = discovery::buildZones(w.registry);
  std::map<std::string, std::vector<std::string>> tls;
  for (const Diagnosis& d : diagnose(w, *zones, "m", "gw")) {
    EXPECT_EQ(d.outcome, "ok") << d.target;
    for (const std::string& r : d.reasons) {
      if (r.starts_with("tls: ")) tls[d.target].push_back(r);
    }
  }
  ASSERT_EQ(tls["red-vn"].size(), 2u);
  EXPECT_NE(tls["red-vn"][0].find("mode STRICT"), std::string::npos) << tls["red-vn"][0];
  EXPECT_NE(tls["red-vn"][1].find("client policy enforces TLS"), std::string::npos);
  EXPECT_EQ(tls["orange-vn"].size(), 1u);  // DISABLED asks for nothing; the gateway's policy still does
  m.virtualGateways["gw"] = json::object();
  for (const Diagnosis& d : diagnose(w, *zones, "m", "gw")) {
    for (const std::string& r : d.reasons) EXPECT_EQ(r.find("client policy"), std::string::npos) << r;
  }
}

}  // namespace
}  // namespace meshd::xds
