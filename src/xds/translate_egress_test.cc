// The egress listener's ways out of the mesh: AWS services always, everything else with the mesh's
// egress filter ALLOW_ALL (App Mesh's semantics).
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <gtest/gtest.h>

#include "xds/translate_test_world.h"

namespace meshd::xds {
namespace {

using namespace translate_testing;
using envoy::config::listener::v3::FilterChain;
using envoy::config::listener::v3::Listener;

// The walkthrough's red node with the given egress filter, its one backend colorteller-2 (orange).
Translation redNode(const std::string& egressFilter) {
  World w = walkthrough(false, "");
  w.meshes["m"].spec["egressFilter"]["type"] = egressFilter;
  w.meshes["m"].virtualNodes["colorteller-red-vn"]["backends"] = {
      {{"virtualService", {{"virtualServiceName", "colorteller-2.default.svc.cluster.local"}}}}};
  return mustTranslate(w, "mesh/m/virtualNode/colorteller-red-vn");
}

const Listener& egressOf(const Translation& t) {
  for (const auto& l : t.listeners) {
    if (l.name().starts_with("lds_egress_")) return l;
  }
  ADD_FAILURE() << "no egress listener";
  return t.listeners.front();
}

std::string tcpClusterOf(const FilterChain& chain) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  if (chain.filters(0).name() != "envoy.filters.network.tcp_proxy" || !chain.filters(0).typed_config().UnpackTo(&t)) return "";
  return t.cluster();
}

std::vector<uint32_t> httpChainPorts(const Listener& l) {
  std::vector<uint32_t> out;
  for (const auto& c : l.filter_chains()) {
    if (c.filters(0).name() == "envoy.filters.network.http_connection_manager") {
      out.push_back(c.filter_chain_match().destination_port().value());
    }
  }
  return out;
}

void expectOriginalDst(const Translation& t, const std::string& name) {
  const Cluster* c = findCluster(t, name);
  ASSERT_NE(c, nullptr) << name;
  EXPECT_EQ(c->type(), Cluster::ORIGINAL_DST);
  EXPECT_EQ(c->lb_policy(), Cluster::CLUSTER_PROVIDED);
  EXPECT_EQ(c->connect_timeout().seconds(), 1);
}

TEST(TranslateEgressTest, AwsServicesPassThroughEvenWithDropAll) {
  Translation t = redNode("DROP_ALL");
  const Listener& egress = egressOf(t);
  ASSERT_EQ(egress.listener_filters_size(), 2);
  EXPECT_EQ(egress.listener_filters(0).name(), "envoy.filters.listener.original_dst");
  EXPECT_EQ(egress.listener_filters(1).name(), "envoy.filters.listener.tls_inspector");
  const FilterChain* aws = nullptr;
  for (const auto& c : egress.filter_chains()) {
    if (c.filter_chain_match().server_names_size() > 0) aws = &c;
  }
  ASSERT_NE(aws, nullptr);
  EXPECT_EQ(aws->filter_chain_match().server_names(0), "*.amazonaws.com");
  EXPECT_EQ(aws->filter_chain_match().transport_protocol(), "tls");
  EXPECT_FALSE(aws->filter_chain_match().has_destination_port());
  EXPECT_EQ(tcpClusterOf(*aws), "cds_egress_m_amazonaws");
  expectOriginalDst(t, "cds_egress_m_amazonaws");
}

// DROP_ALL: HTTP is the fallback chain (any unrouted request gets the 404), nothing else passes.
TEST(TranslateEgressTest, DropAllHasNoPassthrough) {
  Translation t = redNode("DROP_ALL");
  const Listener& egress = egressOf(t);
  EXPECT_EQ(httpChainPorts(egress), std::vector<uint32_t>{0});
  for (const auto& c : egress.filter_chains()) {
    EXPECT_NE(tcpClusterOf(c), "cds_egress_m_mesh-allow-all");
  }
  EXPECT_EQ(findCluster(t, "cds_egress_m_mesh-allow-all"), nullptr);
  const auto& routes = t.routes.back();
  ASSERT_EQ(routes.name(), "rds_egress_http_15001");
  for (const auto& vh : routes.virtual_hosts()) {
    for (const auto& d : vh.domains()) EXPECT_NE(d, "*") << vh.name();
  }
}

// ALLOW_ALL: HTTP chains on the HTTP backends' ports (and the listener's own, for a connection made
// to it directly); raw TCP and TLS anywhere else take the chain without criteria to the original
// destination; HTTP whose Host names no service takes the catch-all host there too.
TEST(TranslateEgressTest, AllowAllPassesTheRestThroughToTheOriginalDestination) {
  Translation t = redNode("ALLOW_ALL");
  const Listener& egress = egressOf(t);
  EXPECT_EQ(httpChainPorts(egress), (std::vector<uint32_t>{9080, 15001}));
  const FilterChain* fallback = nullptr;
  for (const auto& c : egress.filter_chains()) {
    if (!c.has_filter_chain_match()) {
      EXPECT_EQ(fallback, nullptr) << "two chains without criteria";
      fallback = &c;
    }
  }
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(tcpClusterOf(*fallback), "cds_egress_m_mesh-allow-all");
  expectOriginalDst(t, "cds_egress_m_mesh-allow-all");
  expectOriginalDst(t, "cds_egress_m_amazonaws");
  const auto& routes = t.routes.back();
  ASSERT_EQ(routes.name(), "rds_egress_http_15001");
  EXPECT_EQ(routes.virtual_hosts_size(), 7);  // every service of the mesh, as before, then the catch-all
  const auto& last = routes.virtual_hosts(routes.virtual_hosts_size() - 1);
  EXPECT_EQ(last.domains(0), "*");
  EXPECT_EQ(last.routes(0).route().cluster(), "cds_egress_m_mesh-allow-all");
}

TEST(TranslateEgressTest, GatewayEgressIsUnchanged) {
  Translation t = mustTranslate(walkthrough(false, ""), "mesh/m/virtualGateway/gw");
  EXPECT_EQ(findCluster(t, "cds_egress_m_amazonaws"), nullptr);
  EXPECT_EQ(findCluster(t, "cds_egress_m_mesh-allow-all"), nullptr);
}

}  // namespace
}  // namespace meshd::xds
