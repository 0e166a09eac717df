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

TEST(HealthCheckIntervalTest, AClusterWithoutTrafficIsCheckedEveryNoTrafficInterval) {
  auto hc = check("interval { seconds: 5 }");
  EXPECT_EQ(healthCheckInterval(hc, false, false, false), milliseconds(60000));
  EXPECT_EQ(healthCheckInterval(hc, false, true, true), milliseconds(60000));
  EXPECT_EQ(healthCheckInterval(check("interval { seconds: 5 } no_traffic_interval { seconds: 2 }"), false, false, false),
            milliseconds(2000));
  EXPECT_EQ(healthCheckInterval(hc, true, false, false), milliseconds(5000));
}

TEST(HealthCheckIntervalTest, WithTrafficTheHostsStateChoosesTheInterval) {
  auto all = check(R"(interval { seconds: 5 } unhealthy_interval { seconds: 7 } unhealthy_edge_interval { seconds: 1 }
                      healthy_edge_interval { seconds: 2 })");
  EXPECT_EQ(healthCheckInterval(all, true, false, false), milliseconds(5000));  // healthy
  EXPECT_EQ(healthCheckInterval(all, true, false, true), milliseconds(2000));   // healthy, failing short of the threshold
  EXPECT_EQ(healthCheckInterval(all, true, true, false), milliseconds(7000));   // unhealthy
  EXPECT_EQ(healthCheckInterval(all, true, true, true), milliseconds(1000));    // unhealthy, passing short of the threshold
  // Unset ones fall back: the unhealthy edge to unhealthy_interval, both to interval.
  auto some = check("interval { seconds: 5 } unhealthy_interval { seconds: 7 }");
  EXPECT_EQ(healthCheckInterval(some, true, true, true), milliseconds(7000));
  EXPECT_EQ(healthCheckInterval(some, true, false, true), milliseconds(5000));
}

}  // namespace
}  // namespace meshd::proxy
