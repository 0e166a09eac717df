// The state-of-the-world ADS stream against a real gRPC client, and the server's own behaviour
// (node resolution, shutdown). Delta streams: ads_delta_test.cc.
#include "xds/ads_server.h"

#include <gtest/gtest.h>

#include "xds/ads_test_client.h"

namespace meshd::xds {
namespace {

using namespace testdata;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

DiscoveryRequest request(std::string_view type, std::vector<std::string> names = {}) {
  DiscoveryRequest r;
  r.set_type_url(std::string(type));
  for (auto& n : names) r.add_resource_names(n);
  return r;
}

DiscoveryRequest ackOf(const DiscoveryResponse& response, std::vector<std::string> names = {}) {
  DiscoveryRequest r = request(response.type_url(), std::move(names));
  r.set_version_info(response.version_info());
  r.set_response_nonce(response.nonce());
  return r;
}

DiscoveryRequest nackOf(const DiscoveryResponse& response, const std::string& reason,
                        std::vector<std::string> names = {}) {
  DiscoveryRequest r = request(response.type_url(), std::move(names));
  r.set_response_nonce(response.nonce());  // version_info stays at the last good one: none
  r.mutable_error_detail()->set_code(3);
  r.mutable_error_detail()->set_message(reason);
  return r;
}

std::vector<std::string> namesIn(const DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    if (any.type_url() == kClusterType) {
      envoy::config::cluster::v3::Cluster m;
      any.UnpackTo(&m);
      out.push_back(m.name());
    } else if (any.type_url() == kEndpointType) {
      envoy::config::endpoint::v3::ClusterLoadAssignment m;
      any.UnpackTo(&m);
      out.push_back(m.cluster_name());
    } else if (any.type_url() == kListenerType) {
      envoy::config::listener::v3::Listener m;
      any.UnpackTo(&m);
      out.push_back(m.name());
    } else if (any.type_url() == kRouteType) {
      envoy::config::route::v3::RouteConfiguration m;
      any.UnpackTo(&m);
      out.push_back(m.name());
    }
  }
  return out;
}

using Names = std::vector<std::string>;
const Names kEndpointNames = {"a", "b"};
const Names kRouteNames = {"r"};

Names namesFor(std::string_view type) {
  if (type == kEndpointType) return kEndpointNames;
  if (type == kRouteType) return kRouteNames;
  return {};
}

class SotwTest : public AdsTest {
 protected:
  // Asks for every type as Envoy does (node on the first request only) and returns the four
  // responses, checked to come in push order.
  std::vector<DiscoveryResponse> sync(SotwStream& s) {
    std::vector<DiscoveryResponse> out;
    bool first = true;
    for (std::string_view type : kPushOrder) {
      DiscoveryRequest r = request(type, namesFor(type));
      if (first) *r.mutable_node() = node("proxy");
      first = false;
      EXPECT_TRUE(s.send(r));
      auto response = s.next();
      EXPECT_TRUE(response.has_value()) << "no response for " << type;
      if (!response) return out;
      EXPECT_EQ(response->type_url(), type);
      out.push_back(*response);
    }
    return out;
  }

  void ackAll(SotwStream& s, const std::vector<DiscoveryResponse>& responses) {
    for (const auto& r : responses) EXPECT_TRUE(s.send(ackOf(r, namesFor(r.type_url()))));
  }
};

Snapshot withEndpointPort(Snapshot s, const std::string& cluster, uint32_t port) {
  add(s, kEndpointType, cluster, endpoints(cluster, port));
  return s;
}

TEST_F(SotwTest, InitialSyncSendsEveryTypeInPushOrder) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_EQ(namesIn(responses[0]), (Names{"a", "b"}));
  EXPECT_EQ(namesIn(responses[1]), (Names{"a", "b"}));
  EXPECT_EQ(namesIn(responses[2]), (Names{"l"}));
  EXPECT_EQ(namesIn(responses[3]), (Names{"r"}));
  std::set<std::string> nonces;
  for (const auto& r : responses) {
    EXPECT_EQ(r.version_info(), snapshot.versionOf(r.type_url()));
    EXPECT_FALSE(r.nonce().empty());
    nonces.insert(r.nonce());
  }
  EXPECT_EQ(nonces.size(), 4u);
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, StreamIsRegisteredAndAcksAreRecorded) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, responses);
  ASSERT_TRUE(eventually([&] { return onlyProxy().ackedVersion.size() == 4; }));
  ProxyStatus p = onlyProxy();
  EXPECT_EQ(p.key, kKey);
  EXPECT_EQ(p.nodeId, "proxy");
  EXPECT_FALSE(p.delta);
  for (std::string_view type : kPushOrder) EXPECT_EQ(p.ackedVersion[std::string(type)], snapshot.versionOf(type));
  EXPECT_TRUE(stream->quiet());  // an ACK asks for nothing new

  stream.reset();
  EXPECT_TRUE(eventually([&] { return cache_.proxies().empty(); }));
}

TEST_F(SotwTest, NackIsRecordedAndTheRejectedVersionNotResent) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, {responses[0], responses[1], responses[3]});
  ASSERT_TRUE(stream->send(nackOf(responses[2], "cannot bind 0.0.0.0:15000")));
  ASSERT_TRUE(eventually([&] { return onlyProxy().lastNackType == kListenerType; }));
  EXPECT_EQ(onlyProxy().lastNackReason, "cannot bind 0.0.0.0:15000");
  EXPECT_EQ(onlyProxy().ackedVersion.count(std::string(kListenerType)), 0u);
  EXPECT_TRUE(stream->quiet());

  // The stream keeps serving: a fixed listener goes out.
  Snapshot fixed = baseSnapshot();
  add(fixed, kListenerType, "l", httpListener("l", "r", 15001));
  cache_.setSnapshot(kKey, share(fixed));
  auto next = stream->next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->type_url(), kListenerType);
  EXPECT_EQ(next->version_info(), fixed.versionOf(kListenerType));
}

TEST_F(SotwTest, SnapshotChangePushesOnlyTheChangedTypes) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, responses);

  Snapshot changed = withEndpointPort(baseSnapshot(), "a", 9090);
  ASSERT_TRUE(cache_.setSnapshot(kKey, share(changed)));
  auto next = stream->next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->type_url(), kEndpointType);
  EXPECT_EQ(next->version_info(), changed.versionOf(kEndpointType));
  EXPECT_EQ(namesIn(*next), (Names{"a", "b"}));  // SotW: every subscribed name
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, EqualSnapshotPushesNothing) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, responses);
  EXPECT_FALSE(cache_.setSnapshot(kKey, share(baseSnapshot())));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, ChangesOfEveryTypeArriveClustersEndpointsListenersRoutes) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, responses);

  Snapshot changed = withEndpointPort(baseSnapshot(), "a", 9090);
  add(changed, kClusterType, "c", edsCluster("c"));
  add(changed, kEndpointType, "c", endpoints("c", 8082));
  add(changed, kListenerType, "l", httpListener("l", "r", 15001));
  add(changed, kRouteType, "r", routeConfig("r", "c"));
  ASSERT_TRUE(changed.checkConsistent().ok());
  cache_.setSnapshot(kKey, share(changed));
  for (std::string_view type : kPushOrder) {
    auto next = stream->next();
    ASSERT_TRUE(next.has_value()) << type;
    EXPECT_EQ(next->type_url(), type);
    EXPECT_EQ(next->version_info(), changed.versionOf(type));
  }
}

TEST_F(SotwTest, EndpointsAndRoutesAreSentOnlyForRequestedNames) {
  Snapshot snapshot = baseSnapshot();
  add(snapshot, kRouteType, "r2", routeConfig("r2", "b"));
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openSotw(*stub_);
  DiscoveryRequest first = request(kEndpointType, {"a"});
  *first.mutable_node() = node("proxy");
  ASSERT_TRUE(stream->send(first));
  auto eds = stream->next();
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(namesIn(*eds), (Names{"a"}));
  ASSERT_TRUE(stream->send(request(kRouteType, {"r"})));
  auto rds = stream->next();
  ASSERT_TRUE(rds.has_value());
  EXPECT_EQ(namesIn(*rds), (Names{"r"}));
  ASSERT_TRUE(stream->send(ackOf(*eds, {"a"})));
  ASSERT_TRUE(stream->send(ackOf(*rds, {"r"})));

  // A change to what the stream did not ask for is not its business.
  cache_.setSnapshot(kKey, share(withEndpointPort(snapshot, "b", 9999)));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, SubscriptionChangeTriggersAResponse) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  DiscoveryRequest first = request(kEndpointType, {"a"});
  *first.mutable_node() = node("proxy");
  ASSERT_TRUE(stream->send(first));
  auto eds = stream->next();
  ASSERT_TRUE(eds.has_value());
  EXPECT_EQ(namesIn(*eds), (Names{"a"}));

  ASSERT_TRUE(stream->send(ackOf(*eds, {"a", "b"})));  // a new cluster needs its endpoints
  auto more = stream->next();
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(namesIn(*more), (Names{"a", "b"}));
  EXPECT_NE(more->nonce(), eds->nonce());

  ASSERT_TRUE(stream->send(ackOf(*more, {"a", "b"})));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, StaleNonceIsIgnored) {
  Snapshot snapshot = baseSnapshot();
  cache_.setSnapshot(kKey, share(snapshot));
  auto stream = openSotw(*stub_);
  auto responses = sync(*stream);
  ASSERT_EQ(responses.size(), 4u);
  ackAll(*stream, responses);
  ASSERT_TRUE(eventually([&] { return onlyProxy().ackedVersion.size() == 4; }));

  Snapshot changed = withEndpointPort(snapshot, "a", 9090);
  cache_.setSnapshot(kKey, share(changed));
  auto pushed = stream->next();
  ASSERT_TRUE(pushed.has_value());
  ASSERT_EQ(pushed->type_url(), kEndpointType);

  // Answers the first EDS response, which the push replaced: neither its names nor its version count.
  DiscoveryRequest stale = ackOf(responses[1], {"a"});
  stale.set_version_info("stale");
  ASSERT_TRUE(stream->send(stale));
  EXPECT_TRUE(stream->quiet());
  EXPECT_EQ(onlyProxy().ackedVersion[std::string(kEndpointType)], snapshot.versionOf(kEndpointType));

  ASSERT_TRUE(stream->send(ackOf(*pushed, {"a", "b"})));
  EXPECT_TRUE(eventually(
      [&] { return onlyProxy().ackedVersion[std::string(kEndpointType)] == changed.versionOf(kEndpointType); }));
  EXPECT_TRUE(stream->quiet());
}

TEST_F(SotwTest, ReconnectGetsAFullResync) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  std::vector<DiscoveryResponse> before;
  {
    auto stream = openSotw(*stub_);
    before = sync(*stream);
    ASSERT_EQ(before.size(), 4u);
    ackAll(*stream, before);
  }
  ASSERT_TRUE(eventually([&] { return cache_.proxies().empty(); }));

  // Envoy reconnects saying which versions it has, without nonces; it gets everything again.
  auto stream = openSotw(*stub_);
  for (size_t i = 0; i < before.size(); ++i) {
    DiscoveryRequest r = request(before[i].type_url(), namesFor(before[i].type_url()));
    r.set_version_info(before[i].version_info());
    if (i == 0) *r.mutable_node() = node("proxy");
    ASSERT_TRUE(stream->send(r));
    auto again = stream->next();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->type_url(), before[i].type_url());
    EXPECT_EQ(namesIn(*again), namesIn(before[i]));
  }
}

TEST_F(SotwTest, ProxyWithoutSnapshotWaitsForOne) {
  auto stream = openSotw(*stub_);
  DiscoveryRequest first = request(kClusterType);
  *first.mutable_node() = node("other");
  ASSERT_TRUE(stream->send(first));
  ASSERT_TRUE(stream->send(request(kListenerType)));
  EXPECT_TRUE(stream->quiet());
  cache_.setSnapshot(kOtherKey, share(baseSnapshot()));
  auto cds = stream->next();
  auto lds = stream->next();
  ASSERT_TRUE(cds.has_value() && lds.has_value());
  EXPECT_EQ(cds->type_url(), kClusterType);
  EXPECT_EQ(lds->type_url(), kListenerType);
}

TEST_F(SotwTest, UnknownNodeEndsTheStreamWithNotFoundAndNothingElse) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  DiscoveryRequest r = request(kClusterType);
  *r.mutable_node() = node("stranger");
  stream->send(r);
  grpc::Status st = stream->finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no virtual node stranger");
  EXPECT_EQ(stream->pending(), 0u);
  EXPECT_TRUE(cache_.proxies().empty());
}

TEST_F(SotwTest, BadNodeEndsTheStreamWithInvalidArgument) {
  auto stream = openSotw(*stub_);
  DiscoveryRequest r = request(kClusterType);
  *r.mutable_node() = node("");
  stream->send(r);
  grpc::Status st = stream->finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "the node has no id");
  EXPECT_EQ(stream->pending(), 0u);
}

TEST_F(SotwTest, FirstRequestWithoutNodeIsInvalidArgument) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  stream->send(request(kClusterType));
  grpc::Status st = stream->finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(stream->pending(), 0u);
}

TEST_F(SotwTest, StopEndsOpenStreamsPromptly) {
  cache_.setSnapshot(kKey, share(baseSnapshot()));
  auto stream = openSotw(*stub_);
  ASSERT_EQ(sync(*stream).size(), 4u);
  auto started = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_FALSE(stream->finish().ok());
  EXPECT_TRUE(cache_.proxies().empty());
}

TEST(AdsServerTest, ListenFailsOnAPortInUse) {
  SnapshotCache cache;
  auto resolve = [](const envoy::config::core::v3::Node&) -> StatusOr<std::string> { return std::string("k"); };
  AdsServer first(cache, resolve), second(cache, resolve);
  StatusOr<int> port = first.listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  StatusOr<int> again = second.listen("127.0.0.1:" + std::to_string(*port));
  EXPECT_FALSE(again.ok());
}

}  // namespace
}  // namespace meshd::xds
