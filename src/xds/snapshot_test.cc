#include "xds/snapshot.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "xds/test_resources.h"

namespace meshd::xds {
namespace {

using namespace testdata;

TEST(SnapshotTest, MakeResourcePacksWithTypeUrlAndHashesTheBytes) {
  Resource r = makeResource("a", edsCluster("a"));
  EXPECT_EQ(r.name, "a");
  EXPECT_EQ(r.body.type_url(), kClusterType);
  EXPECT_EQ(r.version, fingerprint(r.body.value()));
  envoy::config::cluster::v3::Cluster back;
  ASSERT_TRUE(r.body.UnpackTo(&back));
  EXPECT_EQ(back.name(), "a");
}

TEST(SnapshotTest, ResourceVersionChangesExactlyWhenTheMessageDoes) {
  EXPECT_EQ(makeResource("a", endpoints("a", 8080)).version, makeResource("a", endpoints("a", 8080)).version);
  EXPECT_NE(makeResource("a", endpoints("a", 8080)).version, makeResource("a", endpoints("a", 8081)).version);
}

TEST(SnapshotTest, MapFieldsSerializeTheSameWhateverTheInsertionOrder) {
  // Protobuf maps iterate in hash order; only deterministic serialization makes these equal.
  envoy::config::cluster::v3::Cluster one = edsCluster("a"), two = edsCluster("a");
  google::protobuf::Any x, y;
  x.set_type_url("type.googleapis.com/x");
  y.set_type_url("type.googleapis.com/y");
  for (int i = 0; i < 20; ++i) (*one.mutable_typed_extension_protocol_options())["k" + std::to_string(i)] = x;
  for (int i = 19; i >= 0; --i) (*two.mutable_typed_extension_protocol_options())["k" + std::to_string(i)] = x;
  EXPECT_EQ(makeResource("a", one).version, makeResource("a", two).version);
  (*two.mutable_typed_extension_protocol_options())["k3"] = y;
  EXPECT_NE(makeResource("a", one).version, makeResource("a", two).version);
}

TEST(SnapshotTest, VersionOfATypeIsStableAndFollowsItsResources) {
  Snapshot s = baseSnapshot();
  Snapshot same = baseSnapshot();
  EXPECT_FALSE(s.versionOf(kClusterType).empty());
  EXPECT_EQ(s.versionOf(kClusterType), same.versionOf(kClusterType));
  EXPECT_NE(s.versionOf(kClusterType), s.versionOf(kEndpointType));

  add(same, kEndpointType, "b", endpoints("b", 9999));
  EXPECT_NE(s.versionOf(kEndpointType), same.versionOf(kEndpointType));
  EXPECT_EQ(s.versionOf(kClusterType), same.versionOf(kClusterType));

  same.resources[std::string(kClusterType)].erase("b");
  EXPECT_NE(s.versionOf(kClusterType), same.versionOf(kClusterType));
}

TEST(SnapshotTest, VersionOfAnAbsentOrEmptyTypeIsEmpty) {
  Snapshot s;
  EXPECT_EQ(s.versionOf(kListenerType), "");
  s.resources[std::string(kListenerType)];
  EXPECT_EQ(s.versionOf(kListenerType), "");
  EXPECT_EQ(s.ofType(kRouteType), nullptr);
  ASSERT_NE(s.ofType(kListenerType), nullptr);
}

TEST(SnapshotTest, VersionOfNamesCoversOnlyThePresentNamedResources) {
  Snapshot s = baseSnapshot();
  EXPECT_EQ(s.versionOf(kEndpointType, {"a", "b"}), s.versionOf(kEndpointType));
  EXPECT_EQ(s.versionOf(kEndpointType, {"a", "b", "missing"}), s.versionOf(kEndpointType));
  EXPECT_NE(s.versionOf(kEndpointType, {"a"}), s.versionOf(kEndpointType));
  EXPECT_EQ(s.versionOf(kEndpointType, {"missing"}), "");

  Snapshot changedB = baseSnapshot();
  add(changedB, kEndpointType, "b", endpoints("b", 9999));
  EXPECT_EQ(s.versionOf(kEndpointType, {"a"}), changedB.versionOf(kEndpointType, {"a"}));
}

TEST(SnapshotTest, ConsistentSnapshotPasses) {
  EXPECT_TRUE(baseSnapshot().checkConsistent().ok());
  EXPECT_TRUE(Snapshot().checkConsistent().ok());
}

TEST(SnapshotTest, ListenerNamingAMissingRouteConfigurationIsRejected) {
  Snapshot s = baseSnapshot();
  add(s, kListenerType, "l2", httpListener("l2", "r2", 15001));
  Status st = s.checkConsistent();
  EXPECT_EQ(st.kind(), ErrorKind::kBadRequest);
  EXPECT_NE(st.message().find("listener l2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("route configuration r2"), std::string::npos) << st.message();
}

TEST(SnapshotTest, RoutesOfTheDefaultFilterChainAreChecked) {
  Snapshot s = baseSnapshot();
  envoy::config::listener::v3::Listener l = httpListener("l", "r");
  l.mutable_default_filter_chain()->add_filters()->mutable_typed_config()->PackFrom(rdsManager("fallback"));
  add(s, kListenerType, "l", l);
  EXPECT_EQ(s.checkConsistent().kind(), ErrorKind::kBadRequest);
  add(s, kRouteType, "fallback", routeConfig("fallback", "b"));
  EXPECT_TRUE(s.checkConsistent().ok());
}

TEST(SnapshotTest, EdsClusterWithoutEndpointsIsRejected) {
  Snapshot s = baseSnapshot();
  s.resources[std::string(kEndpointType)].erase("b");
  Status st = s.checkConsistent();
  EXPECT_EQ(st.kind(), ErrorKind::kBadRequest);
  EXPECT_NE(st.message().find("EDS cluster b"), std::string::npos) << st.message();
}

TEST(SnapshotTest, EdsServiceNameIsTheEndpointsName) {
  Snapshot s = baseSnapshot();
  envoy::config::cluster::v3::Cluster c = edsCluster("c");
  c.mutable_eds_cluster_config()->set_service_name("svc");
  add(s, kClusterType, "c", c);
  EXPECT_NE(s.checkConsistent().message().find("svc"), std::string::npos);
  add(s, kEndpointType, "svc", endpoints("svc", 8082));
  EXPECT_TRUE(s.checkConsistent().ok());
}

TEST(SnapshotTest, NonEdsClusterNeedsNoEndpoints) {
  Snapshot s = baseSnapshot();
  envoy::config::cluster::v3::Cluster c = edsCluster("dns");
  c.set_type(envoy::config::cluster::v3::Cluster::STRICT_DNS);
  add(s, kClusterType, "dns", c);
  EXPECT_TRUE(s.checkConsistent().ok());
}

TEST(SnapshotTest, ResourceOfTheWrongMessageTypeIsRejected) {
  Snapshot s = baseSnapshot();
  add(s, kListenerType, "oops", routeConfig("oops", "a"));
  Status st = s.checkConsistent();
  EXPECT_EQ(st.kind(), ErrorKind::kBadRequest);
  EXPECT_NE(st.message().find("oops"), std::string::npos);
}

}  // namespace
}  // namespace meshd::xds
