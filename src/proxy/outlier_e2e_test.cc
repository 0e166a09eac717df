// Outlier detection end to end, as Envoy's: consecutive 5xx and gateway failures, success rate and
// failure percentage over an interval, max_ejection_percent, and the outlier_detection.* stats.
#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <string>
#include <vector>

#include "proxy/e2e_fixture.h"
#include "proxy/test_util.h"

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_F(ProxyE2eTest, AHostIsEjectedAfterConsecutive5xxForAWhile) {
  Upstream good("good"), bad("bad", 500);
  auto c = staticCluster("c", {good.port(), bad.port()});
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    consecutive_5xx { value: 2 } interval { nanos: 200000000 } base_ejection_time { nanos: 500000000 }
    max_ejection_percent { value: 50 })",
                                                          c.mutable_outlier_detection()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  std::string ejected = "c::127.0.0.1:" + std::to_string(bad.port()) + "::health_flags::/failed_outlier_check";
  ASSERT_TRUE(eventually([&] {
    httpGet("127.0.0.1", port_, "/");
    return admin("/clusters").find(ejected) != std::string::npos;
  })) << admin("/clusters");
  int before = bad.requests();
  for (int i = 0; i < 4; ++i) httpGet("127.0.0.1", port_, "/");
  EXPECT_EQ(bad.requests(), before);  // while ejected, only the good host is used
  EXPECT_TRUE(eventually([&] { return admin("/clusters").find(ejected) == std::string::npos; }, 3s));
}

// As Envoy, a host is ejected only while one more ejected host stays within max_ejection_percent
// (10 by default): of two hosts, none may go.
TEST_F(ProxyE2eTest, NoHostIsEjectedPastMaxEjectionPercent) {
  Upstream good("good"), bad("bad", 500);
  auto c = staticCluster("c", {good.port(), bad.port()});
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "consecutive_5xx { value: 2 } interval { nanos: 200000000 } base_ejection_time { seconds: 10 }",
      c.mutable_outlier_detection()));
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200 || r.status == 500; });
  for (int i = 0; i < 10; ++i) httpGet("127.0.0.1", port_, "/");
  EXPECT_EQ(admin("/clusters").find("failed_outlier_check"), std::string::npos) << admin("/clusters");
  int before = bad.requests();
  for (int i = 0; i < 4; ++i) httpGet("127.0.0.1", port_, "/");
  EXPECT_GT(bad.requests(), before);  // still in the rotation
}

// Five hosts, one always failing with `status`; the others answer 200.
class OutlierE2eTest : public ProxyE2eTest {
 protected:
  void start(int badStatus, const std::string& od) {
    for (int i = 0; i < 4; ++i) good_.push_back(std::make_unique<Upstream>("good" + std::to_string(i)));
    bad_ = std::make_unique<Upstream>("bad", badStatus);
    std::vector<int> ports;
    for (auto& g : good_) ports.push_back(g->port());
    ports.push_back(bad_->port());
    auto c = staticCluster("c", ports);
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(od, c.mutable_outlier_detection()));
    set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
    await("/", [](auto& r) { return r.status != 0; });
  }
  // Sends requests until the bad host is ejected (true), or for 5 s.
  bool ejected() {
    std::string flag = "c::127.0.0.1:" + std::to_string(bad_->port()) + "::health_flags::/failed_outlier_check";
    return eventually([&] {
      for (int i = 0; i < 10; ++i) httpGet("127.0.0.1", port_, "/");
      return admin("/clusters").find(flag) != std::string::npos;
    }, 5s);
  }
  bool stat(const std::string& line) { return admin("/stats").find("cluster.c.outlier_detection." + line + "\n") != std::string::npos; }

  std::vector<std::unique_ptr<Upstream>> good_;
  std::unique_ptr<Upstream> bad_;
};

// Success rate: with five hosts past the request volume, the one far below the mean goes.
TEST_F(OutlierE2eTest, AHostFarBelowTheMeanSuccessRateIsEjected) {
  start(500, R"(consecutive_5xx { value: 1000 } interval { nanos: 300000000 } base_ejection_time { seconds: 10 }
                max_ejection_percent { value: 50 } success_rate_request_volume { value: 5 })");
  ASSERT_TRUE(ejected()) << admin("/clusters");
  EXPECT_TRUE(stat("ejections_enforced_success_rate: 1")) << admin("/stats");
  EXPECT_TRUE(stat("ejections_active: 1"));
  EXPECT_TRUE(stat("ejections_enforced_consecutive_5xx: 0"));
  EXPECT_NE(admin("/stats/prometheus").find("# TYPE envoy_cluster_outlier_detection_ejections_active gauge"), std::string::npos);
}

// Failure percentage, enforced here (Envoy's default enforces 0%), with success rate not enforced.
TEST_F(OutlierE2eTest, AHostFailingPastTheThresholdPercentageIsEjected) {
  start(500, R"(consecutive_5xx { value: 1000 } interval { nanos: 300000000 } base_ejection_time { seconds: 10 }
                max_ejection_percent { value: 50 } enforcing_success_rate { value: 0 }
                enforcing_failure_percentage { value: 100 } failure_percentage_request_volume { value: 5 }
                success_rate_request_volume { value: 5 })");
  ASSERT_TRUE(ejected()) << admin("/clusters");
  EXPECT_TRUE(stat("ejections_enforced_failure_percentage: 1")) << admin("/stats");
  EXPECT_TRUE(stat("ejections_enforced_success_rate: 0"));
  EXPECT_FALSE(stat("ejections_detected_success_rate: 0"));  // detected, not enforced
}

// Consecutive gateway failures (502, 503, 504) eject when enforced; a 500 is not one.
TEST_F(OutlierE2eTest, ConsecutiveGatewayFailuresEjectWhenEnforced) {
  start(503, R"(consecutive_5xx { value: 1000 } consecutive_gateway_failure { value: 3 }
                enforcing_consecutive_gateway_failure { value: 100 } enforcing_success_rate { value: 0 }
                interval { seconds: 10 } base_ejection_time { seconds: 10 } max_ejection_percent { value: 50 })");
  ASSERT_TRUE(ejected()) << admin("/clusters");
  EXPECT_TRUE(stat("ejections_enforced_consecutive_gateway_failure: 1")) << admin("/stats");
  EXPECT_TRUE(stat("ejections_enforced_total: 1"));
}

TEST_F(OutlierE2eTest, ConsecutiveGatewayFailuresAreDetectedButNotEnforcedByDefault) {
  start(503, R"(consecutive_5xx { value: 1000 } consecutive_gateway_failure { value: 3 } enforcing_success_rate { value: 0 }
                interval { seconds: 10 } max_ejection_percent { value: 50 })");
  EXPECT_TRUE(eventually([&] {
    for (int i = 0; i < 10; ++i) httpGet("127.0.0.1", port_, "/");
    return !stat("ejections_detected_consecutive_gateway_failure: 0");
  }, 5s)) << admin("/stats");
  EXPECT_TRUE(stat("ejections_active: 0"));
  EXPECT_EQ(admin("/clusters").find("failed_outlier_check"), std::string::npos);
}

}  // namespace
}  // namespace meshd::proxy
