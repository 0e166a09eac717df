#include "proxy/config_manager.h"

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "proxy/test_util.h"
#include "proxy/xds_types.h"

namespace meshd::proxy {
namespace {

using envoy::config::cluster::v3::Cluster;
using google::protobuf::Any;
using google::protobuf::RepeatedPtrField;

template <typename... M>
RepeatedPtrField<Any> pack(const M&... messages) {
  RepeatedPtrField<Any> out;
  (out.Add()->PackFrom(messages), ...);
  return out;
}

Cluster dnsCluster(Cluster::DiscoveryType type) {
  Cluster c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    name: "d" load_assignment { cluster_name: "d" endpoints { lb_endpoints { endpoint { address {
      socket_address { address: "svc.example" port_value: 9080 } } } } } })", &c));
  c.set_type(type);
  return c;
}

class ConfigManagerTest : public ::testing::Test {
 protected:
  std::vector<std::string> hostsOf(const std::string& cluster) {
    std::vector<std::string> out;
    auto it = published_->clusters.find(cluster);
    if (it == published_->clusters.end()) return {"<absent>"};
    for (const Host& h : it->second->hosts) out.push_back(h.address);
    return out;
  }

  StatsRegistry stats_;
  ConfigPtr published_;
  std::vector<std::string> dnsStarted_;
  ConfigManager manager_{1, stats_, [this](ConfigPtr c) { published_ = c; },
                         [this](const Cluster& c) { dnsStarted_.push_back(c.name()); }};
};

TEST_F(ConfigManagerTest, EdsClusterWarmsWhenItsEndpointsArrive) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(testing::edsCluster("e"))).ok());
  EXPECT_EQ(manager_.endpointNames(), std::vector<std::string>{"e"});
  EXPECT_EQ(hostsOf("e"), std::vector<std::string>{"<absent>"});
  ASSERT_TRUE(manager_.apply(kListenerType, {}).ok());
  EXPECT_FALSE(manager_.initialized());
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("e");
  ASSERT_TRUE(manager_.apply(kEndpointType, pack(cla)).ok());
  EXPECT_EQ(hostsOf("e"), std::vector<std::string>{});
  EXPECT_TRUE(manager_.initialized());
}

TEST_F(ConfigManagerTest, ListenerWarmsWhenItsRoutesArrive) {
  int port = testing::freePort();
  ASSERT_TRUE(manager_.apply(kClusterType, {}).ok());
  ASSERT_TRUE(manager_.apply(kListenerType, pack(testing::httpListener("l", port, "rc"))).ok());
  EXPECT_EQ(manager_.routeNames(), std::vector<std::string>{"rc"});
  EXPECT_EQ(published_->listeners.count("l"), 0u);
  EXPECT_FALSE(manager_.initialized());
  ASSERT_TRUE(manager_.apply(kRouteType, pack(testing::routeConfig("rc", ""))).ok());
  EXPECT_EQ(published_->listeners.count("l"), 1u);
  EXPECT_TRUE(manager_.initialized());
  // A listener warming later does not take the proxy out of LIVE, and the old ones keep serving.
  ASSERT_TRUE(manager_.apply(kListenerType, pack(testing::httpListener("l", port, "rc"),
                                                 testing::httpListener("m", testing::freePort(), "rc2"))).ok());
  EXPECT_TRUE(manager_.initialized());
  EXPECT_EQ(published_->listeners.count("l"), 1u);
  EXPECT_EQ(published_->listeners.count("m"), 0u);
}

TEST_F(ConfigManagerTest, RejectsWholeResponsesItCannotApply) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(testing::staticCluster("a", {80}))).ok());
  Cluster odd = testing::staticCluster("odd", {80});
  odd.set_type(Cluster::ORIGINAL_DST);  // as Envoy: its hosts come from the connections, not from a policy
  Status s = manager_.apply(kClusterType, pack(testing::staticCluster("b", {80}), odd));
  EXPECT_EQ(s.message(), "cluster odd: LB policy ROUND_ROBIN is not valid for Cluster type ORIGINAL_DST. "
                         "Only 'CLUSTER_PROVIDED' is allowed");
  EXPECT_EQ(hostsOf("a"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(hostsOf("b"), std::vector<std::string>{"<absent>"});
  auto compat = testing::httpListener("l", testing::freePort(), "rc");
  compat.mutable_address()->mutable_socket_address()->set_ipv4_compat(true);
  EXPECT_EQ(manager_.apply(kListenerType, pack(compat)).message(),
            "listener l: ipv4_compat is only valid on ::, not on 127.0.0.1");
}

// As Envoy: an outlier detector whose max_ejection_time is below its base_ejection_time (set, or
// the 30 s default) is refused.
TEST_F(ConfigManagerTest, RejectsAMaxEjectionTimeBelowTheBase) {
  auto c = testing::staticCluster("c", {1234});
  c.mutable_outlier_detection()->mutable_max_ejection_time()->set_seconds(10);
  EXPECT_EQ(manager_.apply(kClusterType, pack(c)).message(),
            "cluster c: outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
  c.mutable_outlier_detection()->mutable_base_ejection_time()->set_seconds(5);
  EXPECT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
}

// The runtime overrides a cluster's settings at once: the panic threshold (a whole percent, at most
// 100: Envoy truncates 33.6), the consecutive failures that eject, and how many hosts may be out.
TEST_F(ConfigManagerTest, TheRuntimeOverridesClusterSettings) {
  std::vector<int> ports;
  for (int p = 1000; p < 1010; ++p) ports.push_back(p);
  auto c = testing::staticCluster("c", ports);
  c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(33.6);
  c.mutable_outlier_detection()->mutable_consecutive_5xx()->set_value(3);
  ASSERT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
  ASSERT_TRUE(manager_.apply(kListenerType, {}).ok());
  EXPECT_EQ(published_->clusters.at("c")->panicThresholdPercent, 33);
  EXPECT_EQ(published_->clusters.at("c")->consecutive5xx, 3u);
  EXPECT_EQ(published_->clusters.at("c")->consecutiveGatewayFailure, 5u);
  EXPECT_TRUE(manager_.ejectionWithinLimit("c"));  // one of ten: 10%, the default
  ASSERT_TRUE(manager_.setHostEjected("c", "127.0.0.1:1000", true));
  EXPECT_FALSE(manager_.ejectionWithinLimit("c"));

  RuntimeStats stats;
  envoy::config::bootstrap::v3::LayeredRuntime layered;
  auto* layer = layered.add_layers();
  layer->set_name("admin");
  layer->mutable_admin_layer();
  auto runtime = std::move(*Runtime::make(layered, "", stats));
  runtime->onChange([&](RuntimeSnapshotPtr s) { manager_.setRuntime(std::move(s)); });
  ASSERT_TRUE(runtime->merge({{"upstream.healthy_panic_threshold", "250"}, {"outlier_detection.consecutive_5xx", "7"},
                              {"outlier_detection.consecutive_gateway_failure", "2"},
                              {"outlier_detection.max_ejection_percent", "30"}}).ok());
  EXPECT_EQ(published_->clusters.at("c")->panicThresholdPercent, 100);
  EXPECT_EQ(published_->clusters.at("c")->consecutive5xx, 7u);
  EXPECT_EQ(published_->clusters.at("c")->consecutiveGatewayFailure, 2u);
  EXPECT_TRUE(manager_.ejectionWithinLimit("c"));
  ASSERT_TRUE(runtime->merge({{"upstream.healthy_panic_threshold", ""}, {"outlier_detection.consecutive_5xx", "x"}}).ok());
  EXPECT_EQ(published_->clusters.at("c")->panicThresholdPercent, 33);
  EXPECT_EQ(published_->clusters.at("c")->consecutive5xx, 3u);  // not a number: the cluster's
  // 0 turns the ejection off, as in Envoy (its count never equals 0); detection stays on.
  ASSERT_TRUE(runtime->merge({{"outlier_detection.consecutive_5xx", "0"}}).ok());
  EXPECT_EQ(published_->clusters.at("c")->consecutive5xx, 0u);
  EXPECT_TRUE(published_->clusters.at("c")->outlierDetection);
  c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(29);
  ASSERT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
  EXPECT_EQ(published_->clusters.at("c")->panicThresholdPercent, 28);  // 100 * (29 / 100.0), as Envoy's
}

// Envoy's initial_fetch_timeout: CDS and LDS with no answer count as answered once theirs passes
// (0: never); an EDS cluster then warms with no hosts; a listener's missing route configuration
// becomes an empty one.
TEST_F(ConfigManagerTest, InitialFetchTimeoutsLetInitializationGoOn) {
  auto now = std::chrono::steady_clock::now();
  manager_.setInitialFetchTimeouts(std::chrono::seconds(0), std::chrono::seconds(2));
  manager_.expireInitialFetches(now + std::chrono::hours(1));
  EXPECT_FALSE(manager_.initialized());  // CDS waits for ever
  manager_.setInitialFetchTimeouts(std::chrono::seconds(2), std::chrono::seconds(2));
  manager_.expireInitialFetches(now + std::chrono::seconds(1));
  EXPECT_FALSE(manager_.initialized());
  ASSERT_TRUE(manager_.apply(kClusterType, pack(testing::edsCluster("e"))).ok());
  ASSERT_TRUE(manager_.apply(kListenerType, pack(testing::httpListener("l", testing::freePort(), "rc"))).ok());
  manager_.expireInitialFetches(now + std::chrono::seconds(3));  // the EDS and RDS waits began just now
  EXPECT_FALSE(manager_.initialized());
  EXPECT_EQ(manager_.counts().warmingClusters, 1u);
  manager_.expireInitialFetches(now + std::chrono::seconds(16));  // their unset timeouts: 15 s
  EXPECT_TRUE(manager_.initialized());
  EXPECT_EQ(hostsOf("e"), std::vector<std::string>{});
  ASSERT_TRUE(published_->routes.count("rc"));
  EXPECT_EQ(published_->routes.at("rc")->virtual_hosts_size(), 0);
  EXPECT_EQ(manager_.counts().warmingListeners, 0u);
}

// LDS's initial_fetch_timeout counts from the cluster manager's initialization, as Envoy
// subscribes to LDS only then.
TEST_F(ConfigManagerTest, LdsFetchTimeoutCountsFromClustersReady) {
  auto now = std::chrono::steady_clock::now();
  manager_.setInitialFetchTimeouts(std::chrono::seconds(2), std::chrono::seconds(2));
  manager_.expireInitialFetches(now + std::chrono::seconds(3));  // CDS given up on: LDS starts now
  EXPECT_FALSE(manager_.initialized());
  manager_.expireInitialFetches(now + std::chrono::seconds(4));
  EXPECT_FALSE(manager_.initialized());
  manager_.expireInitialFetches(now + std::chrono::seconds(5));
  EXPECT_TRUE(manager_.initialized());
}

// Envoy's updateDynamicHostList: with active health checks, a host EDS drops stays (and serves)
// as pending_dynamic_removal while it passes them, and goes when it fails one; one never checked
// goes at once; with ignore_health_on_host_removal every dropped host goes at once.
TEST_F(ConfigManagerTest, AHealthyHostDiscoveryDropsStaysUntilItFailsACheck) {
  auto assignment = [](std::vector<std::string> addresses, std::string unhealthy = "") {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    cla.set_cluster_name("e");
    for (const auto& a : addresses) {
      auto* lb = cla.add_endpoints()->add_lb_endpoints();
      auto* sa = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
      sa->set_address(a);
      sa->set_port_value(80);
      if (a == unhealthy) lb->set_health_status(envoy::config::core::v3::UNHEALTHY);
    }
    return cla;
  };
  for (bool ignore : {false, true}) {
    SCOPED_TRACE(ignore ? "ignore_health_on_host_removal" : "Envoy's default");
    auto c = testing::edsCluster("e");
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        "timeout { seconds: 1 } interval { seconds: 5 } tcp_health_check {}", c.add_health_checks()));
    c.set_ignore_health_on_host_removal(ignore);
    ASSERT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
    ASSERT_TRUE(manager_.apply(kEndpointType, pack(assignment({"10.0.0.1", "10.0.0.2", "10.0.0.3"}))).ok());
    manager_.setHostFailedActiveHc("e", "10.0.0.1:80", false);
    manager_.setHostFailedActiveHc("e", "10.0.0.2:80", false);  // 10.0.0.3 is never checked
    ASSERT_TRUE(manager_.apply(kEndpointType, pack(assignment({"10.0.0.1"}))).ok());
    if (ignore) {
      EXPECT_EQ(hostsOf("e"), std::vector<std::string>{"10.0.0.1"});
    } else {
      EXPECT_EQ(hostsOf("e"), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
      EXPECT_TRUE(published_->clusters.at("e")->hosts[1].pendingDynamicRemoval);
      EXPECT_TRUE(published_->clusters.at("e")->hosts[1].healthy());  // still takes traffic
      manager_.setHostFailedActiveHc("e", "10.0.0.2:80", true);
      EXPECT_EQ(hostsOf("e"), std::vector<std::string>{"10.0.0.1"});
      // One EDS said was unhealthy is not kept either (Envoy's FAILED_EDS_HEALTH).
      ASSERT_TRUE(manager_.apply(kEndpointType, pack(assignment({"10.0.0.1", "10.0.0.4"}, "10.0.0.4"))).ok());
      manager_.setHostFailedActiveHc("e", "10.0.0.4:80", false);
      ASSERT_TRUE(manager_.apply(kEndpointType, pack(assignment({"10.0.0.1"}))).ok());
      EXPECT_EQ(hostsOf("e"), std::vector<std::string>{"10.0.0.1"});
    }
    ASSERT_TRUE(manager_.apply(kClusterType, {}).ok());
  }
}

// A regex RE2 cannot compile is a NACK, as Envoy's; the last good route configuration stays.
TEST_F(ConfigManagerTest, RejectsARouteConfigurationWithAnInvalidRegex) {
  ASSERT_TRUE(manager_.apply(kRouteType, pack(testing::routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "a" } })"))).ok());
  for (const char* routes : {R"(routes { match { safe_regex { regex: "(" } } route { cluster: "a" } })",
                             R"(routes { match { prefix: "/" headers { name: "x" string_match { safe_regex { regex: "[a" } } } }
                                         route { cluster: "a" } })",
                             R"(routes { match { prefix: "/" } route { cluster: "a" regex_rewrite { pattern { regex: "*" } substitution: "/" } } })"}) {
    Status s = manager_.apply(kRouteType, pack(testing::routeConfig("rc", routes)));
    EXPECT_TRUE(s.message().starts_with("route configuration rc: virtual host ")) << s.message();
    EXPECT_NE(s.message().find("invalid regex"), std::string::npos) << s.message();
  }
  auto rc = manager_.current()->routes.at("rc");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).match().prefix(), "/");  // the last good one
}

// Envoy's other refusals of a route configuration, in its words: a regex that compiles bigger than
// the runtime's re2.max_program_size.error_level (100), and weights that sum to 0.
TEST_F(ConfigManagerTest, RejectsABigRegexAndWeightsSummingToZero) {
  ASSERT_TRUE(manager_.apply(kRouteType, pack(testing::routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "a" } })"))).ok());
  // A small alternation is fine; seven long ones (as in a user's path regex) are not.
  EXPECT_TRUE(manager_.apply(kRouteType, pack(testing::routeConfig("rc", R"(routes { match { safe_regex { regex: "/(a|b)/.*" } } route { cluster: "a" } })"))).ok());
  const std::string big = "^/user/(488/sms|h5/getJwt|captcha|version/getAIDrawTemplate|version/isMainLand|"
                          "version/promotionTemplate|version/activityTemplate2).*";
  Status s = manager_.apply(kRouteType, pack(testing::routeConfig("rc", "routes { match { safe_regex { regex: \"" + big +
                                                                            "\" } } route { cluster: \"a\" } }")));
  EXPECT_EQ(s.message(), "route configuration rc: virtual host all: regex '" + big +
                             "' RE2 program size of 106 > max program size of 100 set for the error level threshold. "
                             "Increase configured max program size if necessary.");
  s = manager_.apply(kRouteType, pack(testing::routeConfig("rc", R"(routes { match { prefix: "/" } route {
        weighted_clusters { clusters { name: "a" weight { value: 0 } } clusters { name: "b" weight { value: 0 } } } } })")));
  EXPECT_EQ(s.message(), "route configuration rc: virtual host all: Sum of weights in the weighted_cluster must be greater than 0.");
  auto rc = manager_.current()->routes.at("rc");
  EXPECT_TRUE(rc->virtual_hosts(0).routes(0).match().has_safe_regex());  // the last good one
  // The App Mesh agent's bootstrap raises the limit to 1000 in its static runtime layer.
  RuntimeStats stats;
  envoy::config::bootstrap::v3::LayeredRuntime layered;
  auto* layer = layered.add_layers();
  layer->set_name("static_layer_0");
  (*layer->mutable_static_layer()->mutable_fields())["re2.max_program_size.error_level"].set_number_value(1000);
  manager_.setRuntime((*Runtime::make(layered, "", stats))->snapshot());
  EXPECT_TRUE(manager_.apply(kRouteType, pack(testing::routeConfig("rc", "routes { match { safe_regex { regex: \"" + big +
                                                                             "\" } } route { cluster: \"a\" } }"))).ok());
}

TEST_F(ConfigManagerTest, OriginalDstClusterIsWarmAtOnceWithoutHosts) {
  Cluster c;
  c.set_name("out");
  c.set_type(Cluster::ORIGINAL_DST);
  c.set_lb_policy(Cluster::CLUSTER_PROVIDED);
  ASSERT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
  ASSERT_TRUE(manager_.apply(kListenerType, {}).ok());
  EXPECT_TRUE(manager_.initialized());
  EXPECT_EQ(hostsOf("out"), std::vector<std::string>{});
  EXPECT_TRUE(published_->clusters.at("out")->originalDst);
  ASSERT_NE(published_->clusters.at("out")->originalDstHosts, nullptr);
  *c.mutable_load_assignment() = testing::staticCluster("out", {80}).load_assignment();
  EXPECT_EQ(manager_.apply(kClusterType, pack(c)).message(),
            "cluster out: ORIGINAL_DST clusters must have no load assignment configured");
}

// The filter_chain_match fields meshd uses are read; others are refused rather than ignored, and so
// are two chains with the same criteria, as Envoy refuses them.
TEST_F(ConfigManagerTest, FilterChainMatchFieldsAndTheTlsInspector) {
  auto l = testing::tcpListener("l", testing::freePort(), "c");
  l.add_listener_filters()->set_name("envoy.filters.listener.tls_inspector");
  l.mutable_listener_filters_timeout()->set_seconds(2);
  auto* m = l.mutable_filter_chains(0)->mutable_filter_chain_match();
  m->add_server_names("*.AmazonAWS.com");
  m->set_transport_protocol("tls");
  *l.add_filter_chains() = testing::tcpListener("x", 1, "c").filter_chains(0);
  ASSERT_TRUE(manager_.apply(kClusterType, pack(testing::staticCluster("c", {80}))).ok());
  ASSERT_TRUE(manager_.apply(kListenerType, pack(l)).ok());
  const ListenerView& v = *published_->listeners.at("l");
  EXPECT_TRUE(v.tlsInspector);
  EXPECT_EQ(v.listenerFiltersTimeout, std::chrono::milliseconds(2000));
  ASSERT_EQ(v.chains.size(), 2u);
  EXPECT_EQ(v.chains[0].serverNames, std::vector<std::string>{"*.amazonaws.com"});
  EXPECT_EQ(v.chains[0].transportProtocol, "tls");
  EXPECT_TRUE(v.chains[1].serverNames.empty());

  auto twice = l;
  *twice.add_filter_chains() = l.filter_chains(1);
  EXPECT_EQ(manager_.apply(kListenerType, pack(twice)).message(),
            "listener l: multiple filter chains with the same matching rules are defined");
  auto alpn = l;
  alpn.mutable_filter_chains(1)->mutable_filter_chain_match()->add_application_protocols("http/1.1");
  EXPECT_EQ(manager_.apply(kListenerType, pack(alpn)).message(),
            "listener l: filter_chain_match supports only destination_port, server_names and transport_protocol");
}

TEST_F(ConfigManagerTest, StrictDnsEmptySuccessRemovesHostsFailureKeepsThem) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(dnsCluster(Cluster::STRICT_DNS))).ok());
  EXPECT_EQ(dnsStarted_, std::vector<std::string>{"d"});
  manager_.onDnsResolved("d", false, {"127.0.0.2", "127.0.0.3"});
  EXPECT_EQ(hostsOf("d"), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  manager_.onDnsResolved("d", true, {});
  EXPECT_EQ(hostsOf("d"), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  manager_.onDnsResolved("d", false, {});
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{});
}

// Envoy's LOGICAL_DNS has one logical host whose address follows DNS: a new address keeps the
// host's health verdict and counters (it is not a new host waiting for its first check).
TEST_F(ConfigManagerTest, LogicalDnsHostKeepsItsVerdictAcrossAddresses) {
  auto c = dnsCluster(Cluster::LOGICAL_DNS);
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "timeout { seconds: 1 } interval { seconds: 5 } tcp_health_check {}", c.add_health_checks()));
  ASSERT_TRUE(manager_.apply(kClusterType, pack(c)).ok());
  manager_.onDnsResolved("d", false, {"127.0.0.2"});
  manager_.setHostFailedActiveHc("d", "127.0.0.2:9080", false);
  published_->clusters.at("d")->hosts[0].stats->rq_total = 7;
  manager_.onDnsResolved("d", false, {"127.0.0.3"});
  const Host& h = published_->clusters.at("d")->hosts.at(0);
  EXPECT_EQ(h.address, "127.0.0.3");
  EXPECT_FALSE(h.pendingActiveHc);
  EXPECT_TRUE(h.healthy());
  EXPECT_EQ(h.stats->rq_total.load(), 7u);
  manager_.setHostFailedActiveHc("d", "127.0.0.3:9080", true);
  manager_.onDnsResolved("d", false, {"127.0.0.4"});
  EXPECT_TRUE(published_->clusters.at("d")->hosts.at(0).failedActiveHc);  // a failing host stays failing
}

TEST_F(ConfigManagerTest, LogicalDnsKeepsItsLastAddressOnEmptySuccess) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(dnsCluster(Cluster::LOGICAL_DNS))).ok());
  manager_.onDnsResolved("d", false, {"::1", "127.0.0.1"});
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{"::1"});  // the first address of the answer
  manager_.onDnsResolved("d", false, {});
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{"::1"});
  manager_.onDnsResolved("d", true, {});
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{"::1"});
}

TEST_F(ConfigManagerTest, DnsClusterWithoutAnAnswerYetIsWarmingThenEmpty) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(dnsCluster(Cluster::LOGICAL_DNS))).ok());
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{"<absent>"});
  manager_.onDnsResolved("d", false, {});
  EXPECT_EQ(hostsOf("d"), std::vector<std::string>{});
}

// As meshd writes for App Mesh `http2` and `grpc` listeners (xds/clusters.cc): the cluster's hosts
// speak HTTP/2, with the settings its http2_protocol_options give and Envoy's defaults otherwise.
TEST_F(ConfigManagerTest, HttpProtocolOptionsWithHttp2MakeAnHttp2Cluster) {
  using envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
  auto withOptions = [](const std::string& name, int port, const google::protobuf::Message& options) {
    Cluster c = testing::staticCluster(name, {port});
    (*c.mutable_typed_extension_protocol_options())["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        .PackFrom(options);
    return c;
  };
  HttpProtocolOptions plain;
  plain.mutable_explicit_http_config()->mutable_http2_protocol_options();
  HttpProtocolOptions tuned;
  auto* h2 = tuned.mutable_explicit_http_config()->mutable_http2_protocol_options();
  h2->mutable_max_concurrent_streams()->set_value(100);
  h2->mutable_initial_stream_window_size()->set_value(65536);
  h2->mutable_initial_connection_window_size()->set_value(1048576);
  HttpProtocolOptions http1;
  http1.mutable_explicit_http_config()->mutable_http_protocol_options();
  ASSERT_TRUE(manager_.apply(kClusterType, pack(withOptions("h2", 80, plain), withOptions("tuned", 81, tuned),
                                                withOptions("h1", 82, http1), testing::staticCluster("none", {83})))
                  .ok());

  const ClusterView& p = *published_->clusters.at("h2");
  EXPECT_TRUE(p.http2);
  EXPECT_EQ(p.http2Settings.maxConcurrentStreams, 2147483647u);
  EXPECT_EQ(p.http2Settings.initialStreamWindow, 256u * 1024 * 1024);
  EXPECT_EQ(p.http2Settings.initialConnectionWindow, 256u * 1024 * 1024);
  const ClusterView& t = *published_->clusters.at("tuned");
  EXPECT_TRUE(t.http2);
  EXPECT_EQ(t.http2Settings.maxConcurrentStreams, 100u);
  EXPECT_EQ(t.http2Settings.initialStreamWindow, 65536u);
  EXPECT_EQ(t.http2Settings.initialConnectionWindow, 1048576u);
  EXPECT_FALSE(published_->clusters.at("h1")->http2);
  EXPECT_FALSE(published_->clusters.at("none")->http2);

  // What Envoy refuses is a NACK, and the last good config keeps serving: an entry of another
  // type, values outside the proto's ranges.
  EXPECT_EQ(manager_.apply(kClusterType, pack(withOptions("odd", 84, *h2))).message(),
            "cluster odd: cannot unpack envoy.extensions.upstreams.http.v3.HttpProtocolOptions from "
            "type.googleapis.com/envoy.config.core.v3.Http2ProtocolOptions");
  h2->mutable_initial_stream_window_size()->set_value(1024);
  EXPECT_EQ(manager_.apply(kClusterType, pack(withOptions("small", 85, tuned))).message(),
            "cluster small: http2_protocol_options.initial_stream_window_size must be in [65535, 2147483647]");
  EXPECT_TRUE(published_->clusters.at("h2")->http2);
}

// Envoy's membership update stats: a DNS cluster's each resolution, an EDS cluster's each
// assignment; update_no_rebuild when the hosts stayed as they were; update_rejected (EDS only)
// for a NACKed assignment; update_failure for a failed resolution or a failed xDS stream.
TEST_F(ConfigManagerTest, MembershipUpdatesAreCountedAsEnvoys) {
  ASSERT_TRUE(manager_.apply(kClusterType, pack(dnsCluster(Cluster::STRICT_DNS), testing::edsCluster("e"))).ok());
  auto value = [&](const std::string& name) {
    for (const auto& [n, v] : stats_.all()) {
      if (n == name) return static_cast<int64_t>(v);
    }
    return int64_t{-1};
  };
  manager_.onDnsResolved("d", false, {"127.0.0.2"});
  manager_.onDnsResolved("d", false, {"127.0.0.2"});
  manager_.onDnsResolved("d", true, {});
  EXPECT_EQ(value("cluster.d.update_attempt"), 3);
  EXPECT_EQ(value("cluster.d.update_success"), 2);
  EXPECT_EQ(value("cluster.d.update_no_rebuild"), 1);
  EXPECT_EQ(value("cluster.d.update_failure"), 1);
  EXPECT_EQ(value("cluster.d.update_rejected"), -1);  // not an EDS cluster: no such stat

  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(cluster_name: "e" endpoints { lb_endpoints { endpoint {
    address { socket_address { address: "127.0.0.1" port_value: 80 } } } } })", &cla));
  ASSERT_TRUE(manager_.apply(kEndpointType, pack(cla)).ok());
  ASSERT_TRUE(manager_.apply(kEndpointType, pack(cla)).ok());
  auto bad = cla;
  bad.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()->set_address("nowhere");
  EXPECT_FALSE(manager_.apply(kEndpointType, pack(bad)).ok());
  EXPECT_EQ(hostsOf("e"), std::vector<std::string>{"127.0.0.1"});  // the rejected one changed nothing
  manager_.subscriptionFailed();
  EXPECT_EQ(value("cluster.e.update_attempt"), 4);
  EXPECT_EQ(value("cluster.e.update_success"), 2);
  EXPECT_EQ(value("cluster.e.update_no_rebuild"), 1);
  EXPECT_EQ(value("cluster.e.update_rejected"), 1);
  EXPECT_EQ(value("cluster.e.update_failure"), 1);
  EXPECT_EQ(value("cluster.d.update_failure"), 1);  // a failed stream is not a DNS cluster's failure
}

}  // namespace
}  // namespace meshd::proxy
