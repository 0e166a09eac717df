#pragma once
// The translator tests' world: the walkthrough's mesh (a gateway, six colors, DNS or Cloud Map
// discovery) and helpers to look into a Translation. Test code only.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "xds/translate.h"

namespace meshd::xds::translate_testing {

using envoy::config::cluster::v3::Cluster;
using nlohmann::json;

inline constexpr const char* kColors[] = {"red", "orange", "yellow", "green", "blue", "purple"};

inline json nodeSpec(const std::string& color, bool cloudMap, const std::string& pref) {
  json sd = cloudMap ? json{{"awsCloudMap", {{"namespaceName", "default.svc.cluster.local.cloud"},
                                             {"serviceName", "colorteller-" + color}}}}
                     : json{{"dns", {{"hostname", "colorteller-" + color + ".default.svc.cluster.local.dns"}}}};
  if (!pref.empty()) sd.begin().value()["ipPreference"] = pref;
  return {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}},
                          {"healthCheck", {{"protocol", "http"}, {"path", "/ping"}, {"healthyThreshold", 2},
                                           {"unhealthyThreshold", 2}, {"intervalMillis", 5000}, {"timeoutMillis", 2000}}}}}},
          {"serviceDiscovery", sd}};
}

// The walkthrough's mesh: a gateway, six colors; red/orange/yellow registered over IPv4 only,
// green/blue/purple over both.
inline World walkthrough(bool cloudMap, const std::string& meshPref, const std::string& nodePref = "") {
  World w;
  MeshResources& m = w.meshes["m"];
  m.name = "m";
  m.spec = {{"egressFilter", {{"type", "ALLOW_ALL"}}}};
  if (!meshPref.empty()) m.spec["serviceDiscovery"] = {{"ipPreference", meshPref}};
  m.virtualGateways["gw"] = {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}}};
  w.registry.namespaces.push_back({{"Id", "ns-1"}, {"Name", "default.svc.cluster.local.cloud"}, {"Type", "DNS_PRIVATE"}});
  for (int i = 0; i < 6; ++i) {
    std::string color = kColors[i], n = std::to_string(i + 1);
    std::string vs = "colorteller-" + n + ".default.svc.cluster.local";
    m.virtualNodes["colorteller-" + color + "-vn"] = nodeSpec(color, cloudMap, nodePref);
    m.virtualServices[vs] = {{"provider", {{"virtualNode", {{"virtualNodeName", "colorteller-" + color + "-vn"}}}}}};
    m.gatewayRoutes["gw"]["colorgateway-route-" + color] = {
        {"httpRoute", {{"match", {{"prefix", "/" + color}}},
                       {"action", {{"target", {{"virtualService", {{"virtualServiceName", vs}}}}}}}}}};
    std::string svcId = "srv-" + color;
    w.registry.services.push_back({{"Id", svcId}, {"Name", "colorteller-" + color}, {"NamespaceId", "ns-1"}});
    json attrs = {{"AWS_INSTANCE_IPV4", "198.18.0." + std::to_string(10 + i)}};
    if (i >= 3) attrs["AWS_INSTANCE_IPV6"] = "fd00::" + std::to_string(10 + i);
    w.registry.instances[svcId] = {{{"Id", "task-" + color}, {"Attributes", attrs}}};
  }
  return w;
}

inline Translation mustTranslate(const World& w, const std::string& nodeId, bool ipv6 = true) {
  auto id = parseProxyId(nodeId);
  EXPECT_TRUE(id.ok()) << id.status().message();
  auto t = translate(w, *id, {ipv6});
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? *t : Translation{};
}

inline const Cluster* findCluster(const Translation& t, const std::string& name) {
  for (const auto& c : t.clusters) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

inline std::vector<std::string> endpointsOf(const Translation& t, const std::string& cluster) {
  std::vector<std::string> out;
  for (const auto& cla : t.endpoints) {
    if (cla.cluster_name() != cluster) continue;
    for (const auto& group : cla.endpoints()) {
      for (const auto& lb : group.lb_endpoints()) out.push_back(lb.endpoint().address().socket_address().address());
    }
  }
  return out;
}

}  // namespace meshd::xds::translate_testing
