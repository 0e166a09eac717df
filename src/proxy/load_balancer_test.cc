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

// The random number's halves index the two choices among the eligible hosts.
uint64_t choices(uint32_t first, uint32_t second) { return (uint64_t{second} << 32) | first; }

ClusterView leastRequest(std::vector<bool> healthy, std::vector<uint32_t> active) {
  ClusterView c = cluster(std::move(healthy));
  c.lbPolicy = LbPolicy::kLeastRequest;
  for (size_t i = 0; i < c.hosts.size(); ++i) {
    c.hosts[i].stats = std::make_shared<HostStats>();
    c.hosts[i].stats->rq_active = active[i];
  }
  return c;
}

TEST(LoadBalancerTest, LeastRequestTakesTheLessBusyOfTwoChoices) {
  ClusterView c = leastRequest({true, true, true}, {5, 1, 3});
  EXPECT_EQ(pickLeastRequest(c, choices(0, 1))->address, "127.0.0.2");
  EXPECT_EQ(pickLeastRequest(c, choices(1, 0))->address, "127.0.0.2");
  EXPECT_EQ(pickLeastRequest(c, choices(0, 2))->address, "127.0.0.3");
  EXPECT_EQ(pickLeastRequest(c, choices(2, 2))->address, "127.0.0.3");  // the same host twice
  c.hosts[2].stats->rq_active = 5;
  EXPECT_EQ(pickLeastRequest(c, choices(2, 0))->address, "127.0.0.3");  // a tie keeps the first
  size_t rr = 0;
  EXPECT_EQ(selectHost(c, rr, choices(0, 1))->address, "127.0.0.2");
}

TEST(LoadBalancerTest, LeastRequestChoosesOnlyAmongHealthyHosts) {
  // Host 2 is idle but failed its health check: the choices index the healthy hosts 1, 3, 4.
  ClusterView c = leastRequest({true, false, true, true}, {4, 0, 2, 7});
  EXPECT_EQ(pickLeastRequest(c, choices(0, 1))->address, "127.0.0.3");
  EXPECT_EQ(pickLeastRequest(c, choices(2, 0))->address, "127.0.0.1");
  for (uint32_t i = 0; i < 6; ++i) EXPECT_NE(pickLeastRequest(c, choices(i, i + 1))->address, "127.0.0.2");
}

TEST(LoadBalancerTest, LeastRequestKeepsThePanicThreshold) {
  ClusterView panic = leastRequest({true, false, false}, {9, 0, 9});  // 33% healthy: all eligible
  EXPECT_EQ(pickLeastRequest(panic, choices(0, 1))->address, "127.0.0.2");
  ClusterView none = leastRequest({false, false}, {0, 0});
  none.panicThresholdPercent = 0;
  EXPECT_EQ(pickLeastRequest(none, choices(0, 1)), nullptr);
  EXPECT_EQ(pickLeastRequest(leastRequest({}, {}), 7), nullptr);
}

TEST(LoadBalancerTest, PickWeightedSplitsByWeight) {
  std::vector<std::pair<std::string, uint32_t>> choices = {{"a", 3}, {"b", 1}};
  std::map<std::string, int> seen;
  for (uint64_t r = 0; r < 8; ++r) seen[std::string(pickWeighted(choices, r))]++;
  EXPECT_EQ(seen["a"], 6);
  EXPECT_EQ(seen["b"], 2);
  EXPECT_EQ(pickWeighted({}, 7), "");
  std::vector<std::pair<std::string, uint32_t>> only = {{"only", 0}};  // the result views into the choices
  EXPECT_EQ(pickWeighted(only, 7), "only");
}

}  // namespace
}  // namespace meshd::proxy
