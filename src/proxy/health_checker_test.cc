// When the next health check comes: Envoy's intervals by traffic, host state and pending change.
#include "proxy/health_checker.h"

#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

namespace meshd::proxy {
namespace {

using std::chrono::milliseconds;

envoy::config::core::v3::HealthCheck check(const std::string& text) {
  envoy::config::core::v3::HealthCheck hc;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &hc));
  return hc;
}

// A fixed draw: the jitter is then known.
uint64_t draw() { return 1234567; }

TEST(HealthCheckIntervalTest, AClusterWithoutTrafficIsCheckedEveryNoTrafficInterval) {
  auto hc = check("interval { seconds: 5 }");
  EXPECT_EQ(healthCheckInterval(hc, false, true, false, draw), milliseconds(60000));
  EXPECT_EQ(healthCheckInterval(hc, false, false, true, draw), milliseconds(60000));
  auto set = check("interval { seconds: 5 } no_traffic_interval { seconds: 2 } no_traffic_healthy_interval { seconds: 9 }");
  EXPECT_EQ(healthCheckInterval(set, false, false, false, draw), milliseconds(2000));
  EXPECT_EQ(healthCheckInterval(set, false, true, true, draw), milliseconds(2000));
  EXPECT_EQ(healthCheckInterval(set, false, true, false, draw), milliseconds(9000));  // a pass that changes nothing
  EXPECT_EQ(healthCheckInterval(hc, true, true, false, draw), milliseconds(5000));
}

// As Envoy's interval(HealthState, HealthTransition): the state is the check's result.
TEST(HealthCheckIntervalTest, WithTrafficTheChecksResultChoosesTheInterval) {
  auto all = check(R"(interval { seconds: 5 } unhealthy_interval { seconds: 7 } unhealthy_edge_interval { seconds: 1 }
                      healthy_edge_interval { seconds: 2 })");
  EXPECT_EQ(healthCheckInterval(all, true, true, false, draw), milliseconds(5000));   // passed
  EXPECT_EQ(healthCheckInterval(all, true, true, true, draw), milliseconds(2000));    // passed, an unhealthy host short of healthy_threshold
  EXPECT_EQ(healthCheckInterval(all, true, false, false, draw), milliseconds(7000));  // failed
  EXPECT_EQ(healthCheckInterval(all, true, false, true, draw), milliseconds(1000));   // failed, a healthy host short of unhealthy_threshold
  // Unset ones fall back: the unhealthy edge to unhealthy_interval, both to interval.
  auto some = check("interval { seconds: 5 } unhealthy_interval { seconds: 7 }");
  EXPECT_EQ(healthCheckInterval(some, true, false, true, draw), milliseconds(7000));
  EXPECT_EQ(healthCheckInterval(some, true, true, true, draw), milliseconds(5000));
}

TEST(HealthCheckIntervalTest, JitterIsAddedAsEnvoysIs) {
  // 10% of 5000 ms: + 1234567 % 500 = 67; then + 1234567 % 1000 = 567.
  auto hc = check("interval { seconds: 5 } interval_jitter_percent: 10 interval_jitter { seconds: 1 }");
  EXPECT_EQ(healthCheckInterval(hc, true, true, false, draw), milliseconds(5000 + 67 + 567));
  EXPECT_EQ(healthCheckInitialDelay(hc, draw), milliseconds(0));
  EXPECT_EQ(healthCheckInitialDelay(check("interval { seconds: 5 } initial_jitter { seconds: 2 }"), draw), milliseconds(567));
  EXPECT_EQ(healthCheckInitialDelay(check("interval { seconds: 5 } initial_jitter { nanos: 1000000 }"), draw), milliseconds(1));
}

}  // namespace
}  // namespace meshd::proxy
