#include "xds/publisher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include "store/testing/temp_store.h"

#include "model/resource_key.h"
#include "xds/resource_types.h"

namespace meshd::xds {
namespace {

using nlohmann::json;

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    put({&model::kMesh, "m", "", "m"}, json::object());
    for (const char* color : {"red", "blue"}) {
      put({&model::kVirtualNode, "m", "", std::string(color) + "-vn"},
          {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}},
           {"serviceDiscovery", {{"dns", {{"hostname", std::string(color) + ".local"}}}}}});
    }
    publisher_ = std::make_unique<XdsPublisher>(*store_, cache_);
    ASSERT_TRUE(publisher_->start().ok());
  }
  void TearDown() override {
    publisher_.reset();
  }
  void put(const model::ResourceId& id, const json& spec) {
    model::Record rec{{{"spec", spec}}, json::array()};
    ASSERT_TRUE(store_->commit({{}, {{store::Op::Type::kPut, model::keyOf(id), rec.encode()}}})->succeeded);
  }
  static envoy::config::core::v3::Node node(const std::string& id) {
    envoy::config::core::v3::Node n;
    n.set_id(id);
    return n;
  }
  std::string listenerNames(const std::string& key) {
    std::string out;
    auto snap = cache_.snapshot(key);
    if (!snap || !snap->ofType(kListenerType)) return out;
    for (const auto& [name, _] : *snap->ofType(kListenerType)) out += name + ";";
    return out;
  }

  store::testing::TempStore store_;
  SnapshotCache cache_;
  std::unique_ptr<XdsPublisher> publisher_;
};

TEST_F(PublisherTest, ResolvesKnownNodesAndPublishesAtOnce) {
  auto key = publisher_->resolve(node("mesh/m/virtualNode/red-vn"));
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(*key, "mesh/m/virtualNode/red-vn");
  EXPECT_EQ(listenerNames(*key), "lds_egress_0.0.0.0_15001;lds_ingress_0.0.0.0_15000;");
  EXPECT_EQ(publisher_->resolve(node("mesh/m/virtualNode/nope")).status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(publisher_->resolve(node("garbage")).status().kind(), ErrorKind::kBadRequest);
}

// A second proxy of a served node skips translation (the cache has its snapshot), but only while
// the state it was translated from is current.
TEST_F(PublisherTest, NodeDeletedSinceItWasServedIsNotFound) {
  auto n = node("mesh/m/virtualNode/red-vn");
  ASSERT_TRUE(publisher_->resolve(n).ok());
  ASSERT_TRUE(publisher_->resolve(n).ok());
  model::ResourceId red{&model::kVirtualNode, "m", "", "red-vn"};
  ASSERT_TRUE(store_->commit({{}, {{store::Op::Type::kDelete, model::keyOf(red), ""}}})->succeeded);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  StatusOr<std::string> again = publisher_->resolve(n);
  while (again.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // until the loop sees the delete
    again = publisher_->resolve(n);
  }
  EXPECT_EQ(again.status().kind(), ErrorKind::kNotFound);
}

TEST_F(PublisherTest, FollowsTheStoreAndWakesOnlyAffectedProxies) {
  std::string red = *publisher_->resolve(node("mesh/m/virtualNode/red-vn"));
  std::string blue = *publisher_->resolve(node("mesh/m/virtualNode/blue-vn"));
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> pushes;
  for (const std::string& key : {red, blue}) {
    cache_.watch(key, [&, key](std::shared_ptr<const Snapshot>) {
      std::lock_guard lock(mu);
      ++pushes[key];
      cv.notify_all();
    });
  }
  // Only red's own preference changes: red's listeners move to [::]; blue is untouched.
  put({&model::kVirtualNode, "m", "", "red-vn"},
      {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}},
       {"serviceDiscovery", {{"dns", {{"hostname", "red.local"}, {"ipPreference", "IPv6_ONLY"}}}}}});
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return pushes[red] > 0; }));
  }
  EXPECT_EQ(listenerNames(red), "lds_egress_::_15001;lds_ingress_::_15000;");
  // A later unrelated write proves the loop went past red's change without touching blue.
  put({&model::kVirtualService, "m", "", "unused.local"}, json::object());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::lock_guard lock(mu);
  EXPECT_EQ(pushes[blue], 0);
}

TEST_F(PublisherTest, HostWithoutIpv6HasItsOwnKeyAndNote) {
  auto n = node("mesh/m/virtualNode/red-vn");
  (*n.mutable_metadata()->mutable_fields())["meshd.ipv6_available"].set_bool_value(false);
  put({&model::kMesh, "m", "", "m"}, {{"serviceDiscovery", {{"ipPreference", "IPv4_PREFERRED"}}}});
  store_->waitForRevision(0, std::chrono::milliseconds(1));
  auto key = publisher_->translateFor("mesh/m/virtualNode/red-vn", false);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->listeners[0].address().socket_address().address(), "0.0.0.0");
  EXPECT_FALSE(key->notes.empty());
  auto resolved = publisher_->resolve(n);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, "mesh/m/virtualNode/red-vn?ipv6=false");
}

}  // namespace
}  // namespace meshd::xds
