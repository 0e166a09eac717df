#include "xds/snapshot_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "xds/test_resources.h"

namespace meshd::xds {
namespace {

using namespace testdata;

Snapshot withEndpointPort(uint32_t port) {
  Snapshot s = baseSnapshot();
  add(s, kEndpointType, "a", endpoints("a", port));
  return s;
}

TEST(SnapshotCacheTest, SetReportsChangeOnlyWhenSomeVersionDiffers) {
  SnapshotCache cache;
  EXPECT_TRUE(cache.setSnapshot("k", share(baseSnapshot())));
  EXPECT_FALSE(cache.setSnapshot("k", share(baseSnapshot())));  // equal content, new object
  EXPECT_TRUE(cache.setSnapshot("k", share(withEndpointPort(9000))));
  Snapshot fewer = withEndpointPort(9000);
  fewer.resources.erase(std::string(kRouteType));
  EXPECT_TRUE(cache.setSnapshot("k", share(fewer)));
  EXPECT_TRUE(cache.setSnapshot("other", share(baseSnapshot())));
}

TEST(SnapshotCacheTest, WatchersOfTheKeyAreCalledWithEachChangedSnapshot) {
  SnapshotCache cache;
  std::vector<std::shared_ptr<const Snapshot>> seen, seenOther;
  cache.watch("k", [&](auto s) { seen.push_back(s); });
  cache.watch("other", [&](auto s) { seenOther.push_back(s); });

  auto first = share(baseSnapshot());
  cache.setSnapshot("k", first);
  cache.setSnapshot("k", share(baseSnapshot()));
  auto second = share(withEndpointPort(9000));
  cache.setSnapshot("k", second);

  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], first);
  EXPECT_EQ(seen[1], second);
  EXPECT_TRUE(seenOther.empty());
  EXPECT_EQ(cache.snapshot("k"), second);
}

TEST(SnapshotCacheTest, CancelledWatchIsNotCalled) {
  SnapshotCache cache;
  int calls = 0;
  auto id = cache.watch("k", [&](auto) { ++calls; });
  cache.setSnapshot("k", share(baseSnapshot()));
  cache.cancel(id);
  cache.setSnapshot("k", share(withEndpointPort(9000)));
  EXPECT_EQ(calls, 1);
}

TEST(SnapshotCacheTest, CancellingOneWatchOfAKeyKeepsTheOthers) {
  SnapshotCache cache;
  int first = 0, second = 0;
  auto id = cache.watch("k", [&](auto) { ++first; });
  cache.watch("k", [&](auto) { ++second; });
  cache.cancel(id);
  cache.cancel(id);  // twice is harmless
  cache.setSnapshot("k", share(baseSnapshot()));
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST(SnapshotCacheTest, CallbackRunsWithoutTheLockHeld) {
  SnapshotCache cache;
  std::shared_ptr<const Snapshot> readBack;
  cache.watch("k", [&](auto) {
    readBack = cache.snapshot("k");  // would deadlock if the cache's lock were held
    cache.proxies();
  });
  auto s = share(baseSnapshot());
  cache.setSnapshot("k", s);
  EXPECT_EQ(readBack, s);
}

TEST(SnapshotCacheTest, RemoveForgetsTheSnapshotWithoutCallingWatchers) {
  SnapshotCache cache;
  int calls = 0;
  cache.watch("k", [&](auto) { ++calls; });
  cache.setSnapshot("k", share(baseSnapshot()));
  cache.removeSnapshot("k");
  EXPECT_EQ(cache.snapshot("k"), nullptr);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(cache.setSnapshot("k", share(baseSnapshot())));  // new again after removal
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(cache.setSnapshot("k", nullptr));
  EXPECT_EQ(cache.snapshot("k"), nullptr);
}

TEST(SnapshotCacheTest, ConcurrentSettersDeliverInTheOrderTheySet) {
  SnapshotCache cache;
  std::mutex mu;
  std::shared_ptr<const Snapshot> lastDelivered;
  cache.watch("k", [&](auto s) {
    std::lock_guard lock(mu);
    lastDelivered = s;
  });
  std::vector<std::thread> setters;
  for (int t = 0; t < 4; ++t) {
    setters.emplace_back([&, t] {
      for (uint32_t i = 0; i < 50; ++i) cache.setSnapshot("k", share(withEndpointPort(10000 + t * 100 + i)));
    });
  }
  for (auto& th : setters) th.join();
  // The last delivery is of the snapshot the cache holds: no older one overtook it.
  EXPECT_EQ(lastDelivered, cache.snapshot("k"));
}

TEST(SnapshotCacheTest, StreamBookkeepingFollowsOpenUpdateClose) {
  SnapshotCache cache;
  ProxyStatus p;
  p.key = "mesh/m/virtualNode/n";
  p.nodeId = "n";
  p.streamId = 7;
  cache.streamOpened(p);
  cache.streamUpdated(7, [](ProxyStatus& s) { s.ackedVersion[std::string(kClusterType)] = "v1"; });
  cache.streamUpdated(8, [](ProxyStatus& s) { s.lastNackReason = "ignored"; });
  auto proxies = cache.proxies();
  ASSERT_EQ(proxies.size(), 1u);
  EXPECT_EQ(proxies[0].key, "mesh/m/virtualNode/n");
  EXPECT_EQ(proxies[0].ackedVersion.at(std::string(kClusterType)), "v1");
  cache.streamClosed(7);
  EXPECT_TRUE(cache.proxies().empty());
}

}  // namespace
}  // namespace meshd::xds
