// Routing the translator builds beyond the walkthrough: a gateway reaching a router's service
// through its own egress listener, and TCP backends by destination port.
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <gtest/gtest.h>

#include "xds/translate_test_world.h"

namespace meshd::xds {
namespace {

using namespace translate_testing;
using envoy::config::listener::v3::Listener;

// A router "vr" behind colors.local: /canary to blue, the rest to red.
World withRouter() {
  World w = walkthrough(false, "");
  MeshResources& m = w.meshes["m"];
  m.virtualRouters["vr"] = {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}}};
  m.virtualServices["colors.local"] = {{"provider", {{"virtualRouter", {{"virtualRouterName", "vr"}}}}}};
  m.routes["vr"]["canary"] = json::parse(R"({"priority": 1, "httpRoute": {"match": {"prefix": "/canary"},
      "action": {"weightedTargets": [{"virtualNode": "colorteller-blue-vn", "weight": 1}]}}})");
  m.routes["vr"]["rest"] = json::parse(R"({"priority": 2, "httpRoute": {"match": {"prefix": "/"},
      "action": {"weightedTargets": [{"virtualNode": "colorteller-red-vn", "weight": 1}]}}})");
  m.gatewayRoutes["gw"]["to-router"] = json::parse(R"({"httpRoute": {"match": {"prefix": "/colors"},
      "action": {"target": {"virtualService": {"virtualServiceName": "colors.local"}}}}})");
  return w;
}

const envoy::config::route::v3::Route* findRoute(const Translation& t, const std::string& config, const std::string& name) {
  for (const auto& rc : t.routes) {
    if (rc.name() != config) continue;
    for (const auto& vh : rc.virtual_hosts()) {
      for (const auto& r : vh.routes()) {
        if (r.name() == name) return &r;
      }
    }
  }
  return nullptr;
}

// As App Mesh: the gateway sends the request, its Host rewritten to the service, to its own egress
// listener (cds_ingress_<mesh>_<gw>_self_redirect_http_15001), whose routes are the router's, all of them.
TEST(TranslateRoutingTest, GatewayReachesARoutersServiceThroughItsOwnEgress) {
  Translation t = mustTranslate(withRouter(), "mesh/m/virtualGateway/gw");
  const auto* in = findRoute(t, "rds_ingress_http_9080", "to-router");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->route().cluster(), "cds_ingress_m_gw_self_redirect_http_15001");
  EXPECT_EQ(in->route().host_rewrite_literal(), "colors.local");
  const Cluster* self = findCluster(t, "cds_ingress_m_gw_self_redirect_http_15001");
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().port_value(), 15001u);
  ASSERT_EQ(t.listeners.size(), 2u);
  EXPECT_EQ(t.listeners[1].name(), "lds_egress_0.0.0.0_15001");
  const auto* canary = findRoute(t, "rds_egress_http_15001", "canary");
  const auto* rest = findRoute(t, "rds_egress_http_15001", "rest");
  ASSERT_TRUE(canary && rest);
  EXPECT_EQ(canary->route().cluster(), "cds_egress_m_colorteller-blue-vn_http_9080");
  EXPECT_EQ(rest->route().cluster(), "cds_egress_m_colorteller-red-vn_http_9080");
  // A node's service is still reached directly.
  EXPECT_EQ(findRoute(t, "rds_ingress_http_9080", "colorgateway-route-red")->route().cluster(),
            "cds_egress_m_colorteller-red-vn_http_9080");
}

// A gateway route that keeps the client's Host names the service in a header instead, which the
// egress listener's catch-all host routes by.
TEST(TranslateRoutingTest, KeptHostIsRoutedByTheVirtualServiceHeader) {
  World w = withRouter();
  w.meshes["m"].gatewayRoutes["gw"]["to-router"]["httpRoute"]["action"]["rewrite"] = {
      {"hostname", {{"defaultTargetHostname", "DISABLED"}}}};
  Translation t = mustTranslate(w, "mesh/m/virtualGateway/gw");
  const auto* in = findRoute(t, "rds_ingress_http_9080", "to-router");
  ASSERT_NE(in, nullptr);
  EXPECT_TRUE(in->route().host_rewrite_literal().empty());
  ASSERT_EQ(in->request_headers_to_add_size(), 1);
  EXPECT_EQ(in->request_headers_to_add(0).header().key(), "x-app-mesh-virtual-service");
  EXPECT_EQ(in->request_headers_to_add(0).header().value(), "colors.local");
  const auto& egress = t.routes.back();
  const auto& fallback = egress.virtual_hosts(egress.virtual_hosts_size() - 1);
  EXPECT_EQ(fallback.name(), "default_backend");
  EXPECT_EQ(fallback.domains(0), "*");
  ASSERT_EQ(fallback.routes_size(), 2);
  EXPECT_EQ(fallback.routes(0).match().headers(0).name(), "x-app-mesh-virtual-service");
  EXPECT_EQ(fallback.routes(0).match().headers(0).string_match().exact(), "colors.local");
}

envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcpProxyOn(const Listener& l, uint32_t port) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy out;
  for (const auto& chain : l.filter_chains()) {
    if (chain.filter_chain_match().destination_port().value() == port) chain.filters(0).typed_config().UnpackTo(&out);
  }
  return out;
}

// TCP has no Host: the egress listener (which restores the original destination) gets one chain
// per TCP port, to the node's cluster or split over a router's tcpRoute targets, with the
// tcpRoute's idle timeout.
TEST(TranslateRoutingTest, TcpBackendsAreRoutedByDestinationPort) {
  World w = walkthrough(false, "");
  MeshResources& m = w.meshes["m"];
  m.spec["egressFilter"]["type"] = "DROP_ALL";
  m.virtualNodes["db"] = {{"listeners", {{{"portMapping", {{"port", 5432}, {"protocol", "tcp"}}}}}},
                          {"serviceDiscovery", {{"dns", {{"hostname", "db.local"}}}}}};
  m.virtualNodes["cache-a"] = {{"listeners", {{{"portMapping", {{"port", 6379}, {"protocol", "tcp"}}}}}},
                               {"serviceDiscovery", {{"dns", {{"hostname", "a.cache.local"}}}}}};
  m.virtualNodes["cache-b"] = m.virtualNodes["cache-a"];
  m.virtualNodes["cache-b"]["serviceDiscovery"]["dns"]["hostname"] = "b.cache.local";
  m.virtualServices["db.local"] = {{"provider", {{"virtualNode", {{"virtualNodeName", "db"}}}}}};
  m.virtualRouters["cache"] = {{"listeners", {{{"portMapping", {{"port", 6379}, {"protocol", "tcp"}}}}}}};
  m.virtualServices["cache.local"] = {{"provider", {{"virtualRouter", {{"virtualRouterName", "cache"}}}}}};
  m.routes["cache"]["split"] = json::parse(R"({"tcpRoute": {"action": {"weightedTargets": [
      {"virtualNode": "cache-a", "weight": 3}, {"virtualNode": "cache-b", "weight": 1}]},
      "timeout": {"idle": {"unit": "s", "value": 45}}}})");
  m.virtualServices["db2.local"] = m.virtualServices["db.local"];  // the same TCP port again
  m.virtualNodes["app"] = {{"backends", {{{"virtualService", {{"virtualServiceName", "db.local"}}}},
                                         {{"virtualService", {{"virtualServiceName", "db2.local"}}}},
                                         {{"virtualService", {{"virtualServiceName", "cache.local"}}}}}}};
  Translation t = mustTranslate(w, "mesh/m/virtualNode/app");
  const Listener& egress = t.listeners.back();
  EXPECT_EQ(egress.listener_filters(0).name(), "envoy.filters.listener.original_dst");
  EXPECT_EQ(tcpProxyOn(egress, 5432).cluster(), "cds_egress_m_db_tcp_5432");
  auto cache = tcpProxyOn(egress, 6379);
  ASSERT_EQ(cache.weighted_clusters().clusters_size(), 2);
  EXPECT_EQ(cache.weighted_clusters().clusters(0).name(), "cds_egress_m_cache-a_tcp_6379");
  EXPECT_EQ(cache.weighted_clusters().clusters(0).weight(), 3u);
  EXPECT_NE(findCluster(t, "cds_egress_m_cache-b_tcp_6379"), nullptr);
  EXPECT_EQ(cache.idle_timeout().seconds(), 45);  // the tcpRoute's timeout.idle
  EXPECT_FALSE(tcpProxyOn(egress, 5432).has_idle_timeout());  // none given: Envoy's default
  EXPECT_EQ(egress.filter_chains_size(), 4);  // two TCP ports, the HTTP chain and AWS services' TLS
  bool noted = false;
  for (const auto& n : t.notes) noted = noted || n.find("TCP port 5432 of db2.local is already db.local's") != std::string::npos;
  EXPECT_TRUE(noted);
}

}  // namespace
}  // namespace meshd::xds
