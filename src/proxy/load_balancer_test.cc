#include "proxy/load_balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace meshd::proxy {
namespace {

ClusterView cluster(std::vector<bool> healthy) {
  ClusterView c;
  c.name = "c";
  for (size_t i = 0; i < healthy.size(); ++i) {
    Host h;
    h.address = "127.0.0." + std::to_string(i + 1);
    h.port = 80;
    h.failedActiveHc = !healthy[i];
    c.hosts.push_back(h);
  }
  return c;
}

TEST(LoadBalancerTest, NoHostIsNoHealthyUpstream) {
  size_t rr = 0;
  EXPECT_EQ(pickHost(cluster({}), rr), nullptr);
}

TEST(LoadBalancerTest, RoundRobinsOverHealthyHosts) {
  ClusterView c = cluster({true, false, true, true});
  size_t rr = 0;
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) got.push_back(pickHost(c, rr)->address);
  EXPECT_EQ(got, (std::vector<std::string>{"127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.1"}));
}

TEST(LoadBalancerTest, PanicModeUsesEveryHostBelowHalfHealthy) {
  ClusterView c = cluster({false});
  size_t rr = 0;
  ASSERT_NE(pickHost(c, rr), nullptr);
  EXPECT_EQ(pickHost(c, rr)->address, "127.0.0.1");
  ClusterView three = cluster({true, false, false});  // 33% < 50%: all three take turns
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(pickHost(three, rr)->address);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"}));
}

TEST(LoadBalancerTest, NoPanicWhenThresholdIsZero) {
  ClusterView c = cluster({false, false});
  c.panicThresholdPercent = 0;
  size_t rr = 0;
  EXPECT_EQ(pickHost(c, rr), nullptr);
}

TEST(LoadBalancerTest, PickWeightedSplitsByWeight) {
  std::vector<std::pair<std::string, uint32_t>> choices = {{"a", 3}, {"b", 1}};
  std::map<std::string, int> seen;
  for (uint64_t r = 0; r < 8; ++r) seen[pickWeighted(choices, r)]++;
  EXPECT_EQ(seen["a"], 6);
  EXPECT_EQ(seen["b"], 2);
  EXPECT_EQ(pickWeighted({}, 7), "");
  EXPECT_EQ(pickWeighted({{"only", 0}}, 7), "only");
}

}  // namespace
}  // namespace meshd::proxy
