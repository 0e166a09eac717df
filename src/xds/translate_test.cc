#include "xds/translate.h"

#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/ip_preference.h"
#include "xds/translate_test_world.h"

namespace meshd::xds {
namespace {

using namespace translate_testing;

const char* kPrefs[] = {"", "IPv4_PREFERRED", "IPv6_PREFERRED", "IPv4_ONLY", "IPv6_ONLY"};

// DNS discovery: the caller's cluster is LOGICAL_DNS with the target's lookup family.
TEST(TranslateTest, DnsTargetLookupFamilyForEveryPreference) {
  const Cluster::DnsLookupFamily expected[] = {Cluster::AUTO, Cluster::V4_PREFERRED, Cluster::AUTO, Cluster::V4_ONLY,
                                               Cluster::V6_ONLY};
  for (int p = 0; p < 5; ++p) {
    SCOPED_TRACE(std::string("mesh preference ") + kPrefs[p]);
    Translation t = mustTranslate(walkthrough(false, kPrefs[p]), "mesh/m/virtualGateway/gw");
    for (const char* color : kColors) {
      const Cluster* c = findCluster(t, std::string("cds_egress_m_colorteller-") + color + "-vn_http_9080");
      ASSERT_NE(c, nullptr) << color;
      EXPECT_EQ(c->type(), Cluster::LOGICAL_DNS);
      EXPECT_EQ(c->dns_lookup_family(), expected[p]);
      EXPECT_EQ(c->connect_timeout().seconds(), 1);
      EXPECT_EQ(c->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(),
                std::string("colorteller-") + color + ".default.svc.cluster.local.dns");
      ASSERT_EQ(c->health_checks_size(), 1);
      EXPECT_EQ(c->health_checks(0).http_health_check().path(), "/ping");
      EXPECT_EQ(c->health_checks(0).interval().seconds(), 5);
      EXPECT_TRUE(c->ignore_health_on_host_removal());
    }
  }
}

TEST(TranslateTest, DnsResponseTypeEndpointsIsStrictDns) {
  World w = walkthrough(false, "");
  w.meshes["m"].virtualNodes["colorteller-red-vn"]["serviceDiscovery"]["dns"]["responseType"] = "ENDPOINTS";
  Translation t = mustTranslate(w, "mesh/m/virtualGateway/gw");
  EXPECT_EQ(findCluster(t, "cds_egress_m_colorteller-red-vn_http_9080")->type(), Cluster::STRICT_DNS);
}

// Cloud Map discovery: EDS endpoints from the registered addresses, per the target's preference.
TEST(TranslateTest, CloudMapEndpointsForEveryPreference) {
  // Per preference: the address for an IPv4-only registration (red) and a dual registration (green).
  struct Cell {
    const char* v4only;
    const char* dual;
  };
  const Cell expected[] = {{"198.18.0.10", "198.18.0.13"},
                           {"198.18.0.10", "198.18.0.13"},
                           {"198.18.0.10", "fd00::13"},
                           {"198.18.0.10", "198.18.0.13"},
                           {"", "fd00::13"}};
  for (int p = 0; p < 5; ++p) {
    SCOPED_TRACE(std::string("mesh preference ") + kPrefs[p]);
    Translation t = mustTranslate(walkthrough(true, kPrefs[p]), "mesh/m/virtualGateway/gw");
    const Cluster* red = findCluster(t, "cds_egress_m_colorteller-red-vn_http_9080");
    ASSERT_NE(red, nullptr);
    EXPECT_EQ(red->type(), Cluster::EDS);
    EXPECT_EQ(red->eds_cluster_config().service_name(), red->name());
    auto redEndpoints = endpointsOf(t, red->name());
    EXPECT_EQ(redEndpoints, std::string(expected[p].v4only).empty() ? std::vector<std::string>{}
                                                                   : std::vector<std::string>{expected[p].v4only});
    EXPECT_EQ(endpointsOf(t, "cds_egress_m_colorteller-green-vn_http_9080"), std::vector<std::string>{expected[p].dual});
  }
}

// The node's own side: the local app's address and the listeners' bind address.
TEST(TranslateTest, LocalAppAndListenerAddressForEveryPreference) {
  struct Cell {
    const char* local;
    const char* bind;
  };
  const Cell expected[] = {{"127.0.0.1", "0.0.0.0"}, {"127.0.0.1", "::"}, {"::1", "::"}, {"127.0.0.1", "::"}, {"::1", "::"}};
  for (bool cloudMap : {false, true}) {
    for (int p = 0; p < 5; ++p) {
      SCOPED_TRACE(std::string(cloudMap ? "cloud map, " : "dns, ") + "preference " + kPrefs[p]);
      Translation t = mustTranslate(walkthrough(cloudMap, kPrefs[p]), "mesh/m/virtualNode/colorteller-red-vn");
      const Cluster* local = findCluster(t, "cds_ingress_m_colorteller-red-vn_http_9080");
      ASSERT_NE(local, nullptr);
      EXPECT_EQ(local->type(), Cluster::STATIC);
      EXPECT_EQ(local->connect_timeout().nanos(), 250000000);
      const auto& addr = local->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
      EXPECT_EQ(addr.address(), expected[p].local);
      EXPECT_EQ(addr.port_value(), 9080u);
      ASSERT_EQ(t.listeners.size(), 2u);
      std::string bind = expected[p].bind;
      EXPECT_EQ(t.listeners[0].name(), "lds_ingress_" + bind + "_15000");
      EXPECT_EQ(t.listeners[1].name(), "lds_egress_" + bind + "_15001");
      for (const auto& l : t.listeners) {
        EXPECT_EQ(l.address().socket_address().address(), bind);
        EXPECT_EQ(l.address().socket_address().ipv4_compat(), bind == "::");
      }
    }
  }
}

TEST(TranslateTest, NodePreferenceOverridesMesh) {
  // Step 7: IPv6_ONLY mesh, red-vn set to IPv4_PREFERRED.
  World w = walkthrough(true, "IPv6_ONLY");
  w.meshes["m"].virtualNodes["colorteller-red-vn"] = nodeSpec("red", true, "IPv4_PREFERRED");
  Translation gw = mustTranslate(w, "mesh/m/virtualGateway/gw");
  EXPECT_EQ(endpointsOf(gw, "cds_egress_m_colorteller-red-vn_http_9080"), std::vector<std::string>{"198.18.0.10"});
  EXPECT_TRUE(endpointsOf(gw, "cds_egress_m_colorteller-orange-vn_http_9080").empty());
  Translation red = mustTranslate(w, "mesh/m/virtualNode/colorteller-red-vn");
  EXPECT_EQ(findCluster(red, "cds_ingress_m_colorteller-red-vn_http_9080")
                ->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(),
            "127.0.0.1");
}

TEST(TranslateTest, HostWithoutIpv6GetsIpv4ListenersAndANote) {
  Translation t = mustTranslate(walkthrough(false, "IPv6_ONLY"), "mesh/m/virtualGateway/gw", /*ipv6=*/false);
  ASSERT_EQ(t.listeners.size(), 1u);
  EXPECT_EQ(t.listeners[0].name(), "lds_ingress_0.0.0.0_9080");
  EXPECT_FALSE(t.listeners[0].address().socket_address().ipv4_compat());
  ASSERT_FALSE(t.notes.empty());
  EXPECT_NE(t.notes[0].find("no IPv6"), std::string::npos);
}

TEST(TranslateTest, GatewayRoutesRewritePrefixAndHost) {
  Translation t = mustTranslate(walkthrough(false, ""), "mesh/m/virtualGateway/gw");
  ASSERT_EQ(t.routes.size(), 1u);
  const auto& rc = t.routes[0];
  EXPECT_EQ(rc.name(), "rds_ingress_http_9080");
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const auto& vh = rc.virtual_hosts(0);
  EXPECT_EQ(vh.domains(0), "*");
  ASSERT_EQ(vh.routes_size(), 12);  // /red/ and /red for each color, as App Mesh
  int sawRed = 0;
  for (const auto& r : vh.routes()) {
    if (r.match().prefix() != "/red" && r.match().prefix() != "/red/") continue;
    ++sawRed;
    EXPECT_EQ(r.route().cluster(), "cds_egress_m_colorteller-red-vn_http_9080");
    EXPECT_EQ(r.route().prefix_rewrite(), "/");
    EXPECT_EQ(r.route().host_rewrite_literal(), "colorteller-1.default.svc.cluster.local");
  }
  EXPECT_EQ(sawRed, 2);
  EXPECT_EQ(vh.routes(0).match().prefix(), "/orange/");  // the longer prefix first
  EXPECT_EQ(vh.routes(1).match().prefix(), "/orange");
}

TEST(TranslateTest, RouterWithWeightedTargetsAndRetries) {
  World w = walkthrough(false, "");
  MeshResources& m = w.meshes["m"];
  m.virtualRouters["vr"] = {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}}};
  m.virtualServices["colors.local"] = {{"provider", {{"virtualRouter", {{"virtualRouterName", "vr"}}}}}};
  m.routes["vr"]["split"] = json::parse(R"({"priority": 5, "httpRoute": {
      "match": {"prefix": "/", "headers": [{"name": "x-canary", "match": {"exact": "1"}}]},
      "action": {"weightedTargets": [{"virtualNode": "colorteller-red-vn", "weight": 80},
                                     {"virtualNode": "colorteller-blue-vn", "weight": 20}]},
      "retryPolicy": {"maxRetries": 3, "perRetryTimeout": {"unit": "ms", "value": 500},
                      "httpRetryEvents": ["server-error", "gateway-error"], "tcpRetryEvents": ["connection-error"]},
      "timeout": {"perRequest": {"unit": "s", "value": 3}}}})");
  m.routes["vr"]["default"] = json::parse(R"({"httpRoute": {"match": {"prefix": "/"},
      "action": {"weightedTargets": [{"virtualNode": "colorteller-green-vn", "weight": 1}]}}})");
  m.virtualNodes["client"] = {{"backends", {{{"virtualService", {{"virtualServiceName", "colors.local"}}}}}}};
  m.spec["egressFilter"]["type"] = "DROP_ALL";
  Translation t = mustTranslate(w, "mesh/m/virtualNode/client");
  ASSERT_EQ(t.listeners.size(), 1u);  // no listeners of its own: egress only
  const auto& rc = t.routes.back();
  EXPECT_EQ(rc.name(), "rds_egress_http_15001");
  ASSERT_EQ(rc.virtual_hosts_size(), 1);  // DROP_ALL: only its backend
  const auto& vh = rc.virtual_hosts(0);
  EXPECT_EQ(vh.domains(0), "colors.local");
  EXPECT_EQ(vh.domains(1), "colors.local:9080");
  ASSERT_EQ(vh.routes_size(), 2);
  const auto& split = vh.routes(0);  // priority 5 before the unprioritised default
  EXPECT_EQ(split.name(), "split");
  EXPECT_EQ(split.match().headers(0).string_match().exact(), "1");
  ASSERT_EQ(split.route().weighted_clusters().clusters_size(), 2);
  EXPECT_EQ(split.route().weighted_clusters().clusters(0).weight().value(), 80u);
  EXPECT_EQ(split.route().retry_policy().retry_on(), "5xx,gateway-error,connect-failure");
  EXPECT_EQ(split.route().retry_policy().num_retries().value(), 3u);
  EXPECT_EQ(split.route().timeout().seconds(), 3);
  EXPECT_EQ(vh.routes(1).route().cluster(), "cds_egress_m_colorteller-green-vn_http_9080");
  EXPECT_NE(findCluster(t, "cds_egress_m_colorteller-blue-vn_http_9080"), nullptr);
}

// App Mesh's listener timeout.tcp.idle is the ingress tcp_proxy's idle_timeout.
TEST(TranslateTest, TcpListenerIdleTimeout) {
  World w = walkthrough(false, "");
  json& listener = w.meshes["m"].virtualNodes["colorteller-red-vn"]["listeners"][0];
  listener["portMapping"]["protocol"] = "tcp";
  listener["timeout"] = {{"tcp", {{"idle", {{"unit", "s"}, {"value", 30}}}}}};
  Translation t = mustTranslate(w, "mesh/m/virtualNode/colorteller-red-vn");
  ASSERT_TRUE(t.listeners[0].name().starts_with("lds_ingress_")) << t.listeners[0].name();
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  ASSERT_TRUE(t.listeners[0].filter_chains(0).filters(0).typed_config().UnpackTo(&tcp));
  EXPECT_EQ(tcp.idle_timeout().seconds(), 30);
}

TEST(TranslateTest, HttpConnectionManagerUsesRdsOverAds) {
  Translation t = mustTranslate(walkthrough(false, ""), "mesh/m/virtualNode/colorteller-red-vn");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  ASSERT_TRUE(t.listeners[0].filter_chains(0).filters(0).typed_config().UnpackTo(&hcm));
  EXPECT_EQ(hcm.rds().route_config_name(), "rds_ingress_http_9080");
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_EQ(hcm.http_filters(0).name(), "envoy.filters.http.router");
  EXPECT_EQ(t.listeners[0].traffic_direction(), envoy::config::core::v3::INBOUND);  // drain_listeners?inboundonly
  EXPECT_EQ(t.listeners.back().traffic_direction(), envoy::config::core::v3::OUTBOUND);
}

TEST(TranslateTest, ProxyIdsAndUnknownProxies) {
  auto arn = parseProxyId("arn:aws:appmesh:us-west-2:123456789012:mesh/m/virtualGateway/gw");
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->key(), "mesh/m/virtualGateway/gw");
  EXPECT_FALSE(parseProxyId("m/virtualNode/x").ok());
  EXPECT_FALSE(parseProxyId("mesh/m/route/x").ok());
  World w = walkthrough(false, "");
  EXPECT_EQ(translate(w, *parseProxyId("mesh/m/virtualNode/nope"), {}).status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(translate(w, *parseProxyId("mesh/x/virtualNode/nope"), {}).status().kind(), ErrorKind::kNotFound);
}

// Whole translations of the walkthrough's meshes, checked against files in testdata/. Run with
// MESHD_UPDATE_GOLDEN=1 to rewrite them after an intended change, and review the diff.
std::string translationJson(const Translation& t) {
  auto list = [](const auto& messages) {
    json out = json::array();
    for (const auto& m : messages) {
      std::string text;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &text, options).ok());
      out.push_back(json::parse(text));
    }
    return out;
  };
  return json{{"clusters", list(t.clusters)}, {"endpoints", list(t.endpoints)}, {"listeners", list(t.listeners)},
              {"routes", list(t.routes)}, {"notes", t.notes}}
             .dump(2) + "\n";
}

void expectGolden(const std::string& file, const Translation& t) {
  std::string path = std::string(MESHD_XDS_TESTDATA) + "/" + file;
  std::string actual = translationJson(t);
  if (std::getenv("MESHD_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual;
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing " << path << " (run with MESHD_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << file << " differs; if intended, run with MESHD_UPDATE_GOLDEN=1";
}

TEST(TranslateGoldenTest, WalkthroughDnsMesh) {
  World w = walkthrough(false, "IPv6_PREFERRED");
  expectGolden("walkthrough_dns_gateway.json", mustTranslate(w, "mesh/m/virtualGateway/gw"));
  expectGolden("walkthrough_dns_red.json", mustTranslate(w, "mesh/m/virtualNode/colorteller-red-vn"));
}

TEST(TranslateGoldenTest, WalkthroughCloudMapMesh) {
  World w = walkthrough(true, "IPv6_ONLY");
  w.meshes["m"].virtualNodes["colorteller-red-vn"] = nodeSpec("red", true, "IPv4_PREFERRED");  // step 7
  expectGolden("walkthrough_cloudmap_gateway.json", mustTranslate(w, "mesh/m/virtualGateway/gw"));
  expectGolden("walkthrough_cloudmap_purple.json", mustTranslate(w, "mesh/m/virtualNode/colorteller-purple-vn"));
}

TEST(TranslateTest, IsDeterministic) {
  World w = walkthrough(true, "IPv6_PREFERRED");
  auto dump = [&] {
    Translation t = mustTranslate(w, "mesh/m/virtualGateway/gw");
    std::string s;
    for (const auto& c : t.clusters) s += c.SerializeAsString();
    for (const auto& r : t.routes) s += r.SerializeAsString();
    return s;
  };
  EXPECT_EQ(dump(), dump());
}

}  // namespace
}  // namespace meshd::xds
