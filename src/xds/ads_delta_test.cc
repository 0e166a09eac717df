// The incremental (delta) ADS stream against a real gRPC client.
#include <gtest/gtest.h>

#include "xds/ads_server.h"
#include "xds/ads_test_client.h"

namespace meshd::xds {
namespace {

using namespace testdata;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using Names = std::vector<std::string>;

DeltaDiscoveryRequest request(std::string_view type, Names subscribe = {}, Names unsubscribe = {}) {
  DeltaDiscoveryRequest r;
  r.set_type_url(std::string(type));
  for (auto& n : subscribe) r.add_resource_names_subscribe(n);
  for (auto& n : unsubscribe) r.add_resource_names_unsubscribe(n);
  return r;
}

DeltaDiscoveryRequest ackOf(const DeltaDiscoveryResponse& response) {
  DeltaDiscoveryRequest r = request(response.type_url());
  r.set_response_nonce(response.nonce());
  return r;
}

// name -> version of the resources a response carries.
std::map<std::string, std::string> carried(const DeltaDiscoveryResponse& r) {
  std::map<std::string, std::string> out;
  for (const auto& res : r.resources()) {
    EXPECT_EQ(res.resource().type_url(), r.type_url());
    out[res.name()] = res.version();
  }
  return out;
}

Names removed(const DeltaDiscoveryResponse& r) { return Names(r.removed_resources().begin(), r.removed_resources().end()); }

std::map<std::string, std::string> versionsOf(const Snapshot& s, std::string_view type, const Names& names) {
  std::map<std::string, std::string> out;
  for (const auto& n : names) out[n] = s.ofType(type)->at(n).version;
  return out;
}

Names subscriptionFor(std::string_view type) {
  if (type == kEndpointType) return {"a", "b"};
  if (type == kRouteType) return {"r"};
  return {};  // Listener and Cluster: wildcard
}

class DeltaTest : public AdsTest {
 protected:
  std::vector<DeltaDiscoveryResponse> sync(DeltaStream& s) {
    std::vector<DeltaDiscoveryResponse> out;
    bool first = true;
    for (std::string_view type : kPushOrder) {
      DeltaDiscoveryRequest r = request(type, subscriptionFor(type));
      if (first) *r.mutable_node() = node("proxy");
      first = false;
      EXPECT_TRUE(s.send(r));
      auto response = s.next();
      EXPECT_TRUE(response.has_value()) << "no response for " << type;
      if (!response) return out;
      EXPECT_EQ(response->type_url(), type);
      out.push_back(*response);
      EXPECT_TRUE(s.send(ackOf(*response)));
    }
    return out;
  }
};

TEST_F(DeltaTest, InitialSyncSendsEveryResourceWithItsVersion) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openDelta(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_EQ(carried(responses[0]), versionsOf(snapshot, kClusterType, {"a", "b"}));
  EXPECT_EQ(carried(responses[1]), versionsOf(snapshot, kEndpointType, {"a", "b"}));
  EXPECT_EQ(carried(responses[2]), versionsOf(snapshot, kListenerType, {"l"}));
  EXPECT_EQ(carried(responses[3]), versionsOf(snapshot, kRouteType, {"r"}));
  for (const auto& r : responses) {
    EXPECT_EQ(r.system_version_info(), snapshot.versionOf(r.type_url()));
    EXPECT_TRUE(r.removed_resources().empty());
  }
  ASSERT_TRUE(eventually([&] { return onlyProxy().ackedVersion.size() == 4; }));
  ProxyStatus p = onlyProxy();
  EXPECT_TRUE(p.delta);
  for (std::string_view type : kPushOrder) EXPECT_EQ(p.ackedVersion[std::string(type)], snapshot.versionOf(type));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(DeltaTest, OnlyChangedResourcesAreSent) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openDelta(*stub_);
  ASSERT_EQ(sync(*stream).size(), 4u);

  Snapshot changed = baseSnapshot();
  add(changed, kEndpointType, "a", endpoints("a", 9090));
  ASSERT_TRUE(cache_.setSnapshot(kKey, share(changed)));
  auto next = stream->next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->type_url(), kEndpointType);
  EXPECT_EQ(carried(*next), versionsOf(changed, kEndpointType, {"a"}));
  EXPECT_TRUE(stream->quiet());

  EXPECT_FALSE(cache_.setSnapshot(kKey, share(changed)));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(DeltaTest, DeletedResourcesAreListedAsRemoved) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openDelta(*stub_);
  ASSERT_EQ(sync(*stream).size(), 4u);

  Snapshot fewer = baseSnapshot();
  fewer.resources[std::string(kClusterType)].erase("b");
  fewer.resources[std::string(kEndpointType)].erase("b");
  cache_.setSnapshot(kKey, share(fewer));
  auto cds = stream->next();
  ASSERT_TRUE(cds.has_value());
  EXPECT_EQ(cds->type_url(), kClusterType);
  EXPECT_TRUE(cds->resources().empty());
  EXPECT_EQ(removed(*cds), (Names{"b"}));
  auto eds = stream->next();
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(eds->type_url(), kEndpointType);
  EXPECT_EQ(removed(*eds), (Names{"b"}));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(DeltaTest, InitialResourceVersionsAreHonoured) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openDelta(*stub_);
  // A reconnecting proxy: it holds "a" as it is now, an old "b", and "gone", which is no more.
  DeltaDiscoveryRequest r = request(kClusterType);
  *r.mutable_node() = node("proxy");
  auto& held = *r.mutable_initial_resource_versions();
  held["a"] = snapshot.ofType(kClusterType)->at("a").version;
  held["b"] = "old";
  held["gone"] = "x";
  ASSERT_TRUE(stream->send(r));
  auto cds = stream->next();
  ASSERT_TRUE(cds.has_value());
  EXPECT_EQ(carried(*cds), versionsOf(snapshot, kClusterType, {"b"}));
  EXPECT_EQ(removed(*cds), (Names{"gone"}));
}

TEST_F(DeltaTest, WildcardProxyHoldingEverythingGetsAnEmptyFirstAnswer) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openDelta(*stub_);
  DeltaDiscoveryRequest r = request(kListenerType);
  *r.mutable_node() = node("proxy");
  (*r.mutable_initial_resource_versions())["l"] = snapshot.ofType(kListenerType)->at("l").version;
  ASSERT_TRUE(stream->send(r));
  auto lds = stream->next();
  ASSERT_TRUE(lds.has_value());
  EXPECT_TRUE(lds->resources().empty());
  EXPECT_TRUE(lds->removed_resources().empty());
  EXPECT_EQ(lds->system_version_info(), snapshot.versionOf(kListenerType));
}

TEST_F(DeltaTest, SubscribeAndUnsubscribeByName) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openDelta(*stub_);
  DeltaDiscoveryRequest first = request(kEndpointType, {"a"});
  *first.mutable_node() = node("proxy");
  ASSERT_TRUE(stream->send(first));
  auto eds = stream->next();
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(carried(*eds), versionsOf(snapshot, kEndpointType, {"a"}));

  DeltaDiscoveryRequest swap = request(kEndpointType, {"b"}, {"a"});
  swap.set_response_nonce(eds->nonce());
  ASSERT_TRUE(stream->send(swap));
  auto next = stream->next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(carried(*next), versionsOf(snapshot, kEndpointType, {"b"}));
  EXPECT_TRUE(next->removed_resources().empty());
  ASSERT_TRUE(stream->send(ackOf(*next)));

  Snapshot changed = baseSnapshot();
  add(changed, kEndpointType, "a", endpoints("a", 9090));  // no longer subscribed
  cache_.setSnapshot(kKey, share(changed));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(DeltaTest, NackIsRecordedAndNothingIsResent) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openDelta(*stub_);
  DeltaDiscoveryRequest first = request(kClusterType);
  *first.mutable_node() = node("proxy");
  ASSERT_TRUE(stream->send(first));
  auto cds = stream->next();
  ASSERT_TRUE(cds.has_value());
  DeltaDiscoveryRequest nack = ackOf(*cds);
  nack.mutable_error_detail()->set_code(3);
  nack.mutable_error_detail()->set_message("bad cluster");
  ASSERT_TRUE(stream->send(nack));
  ASSERT_TRUE(eventually([&] { return onlyProxy().lastNackReason == "bad cluster"; }));
  EXPECT_EQ(onlyProxy().lastNackType, kClusterType);
  EXPECT_TRUE(onlyProxy().ackedVersion.empty());
  EXPECT_TRUE(stream->quiet());
}

TEST_F(DeltaTest, UnknownNodeEndsTheStreamWithNotFound) {
  auto stream = openDelta(*stub_);
  DeltaDiscoveryRequest r = request(kClusterType);
  *r.mutable_node() = node("stranger");
  stream->send(r);
  grpc::Status st = stream->finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no virtual node stranger");
  EXPECT_EQ(stream->pending(), 0u);
}

}  // namespace
}  // namespace meshd::xds
