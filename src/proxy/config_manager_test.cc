#include "proxy/config_manager.h"

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
  odd.set_type(Cluster::ORIGINAL_DST);
  Status s = manager_.apply(kClusterType, pack(testing::staticCluster("b", {80}), odd));
  EXPECT_EQ(s.message(), "cluster odd: unsupported cluster type ORIGINAL_DST");
  EXPECT_EQ(hostsOf("a"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(hostsOf("b"), std::vector<std::string>{"<absent>"});
  auto compat = testing::httpListener("l", testing::freePort(), "rc");
  compat.mutable_address()->mutable_socket_address()->set_ipv4_compat(true);
  EXPECT_EQ(manager_.apply(kListenerType, pack(compat)).message(),
            "listener l: ipv4_compat is only valid on ::, not on 127.0.0.1");
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

}  // namespace
}  // namespace meshd::proxy
