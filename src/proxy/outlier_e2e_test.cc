// Outlier detection end to end, as Envoy's: consecutive 5xx and gateway failures, success rate and
// failure percentage over an interval, max_ejection_percent, and the outlier_detection.* stats.
#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <string>
#include <thread>
#include <vector>

#include "proxy/e2e_fixture.h"
#include "proxy/outlier_detector.h"
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

TEST(MaxEjectionTimeTest, DefaultsTo300sOrTheBaseEjectionTimeWhereLonger) {
  envoy::config::cluster::v3::OutlierDetection od;
  EXPECT_EQ(maxEjectionTime(od), 300s);
  od.mutable_base_ejection_time()->set_seconds(400);
  EXPECT_EQ(maxEjectionTime(od), 400s);
  od.mutable_max_ejection_time()->set_seconds(20);
  EXPECT_EQ(maxEjectionTime(od), 20s);
}

// As Envoy's tcp_proxy, connects feed outlier detection: a refusal counts as a 503, so a host that
// refuses connections is ejected after consecutive_5xx of them.
TEST_F(ProxyE2eTest, ATcpProxyHostThatRefusesConnectionsIsEjected) {
  Upstream app("tcp-app");
  int dead = freePort();
  auto c = staticCluster("app", {app.port(), dead});
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "consecutive_5xx { value: 2 } interval { seconds: 10 } base_ejection_time { seconds: 60 } max_ejection_percent { value: 50 }",
      c.mutable_outlier_detection()));
  set({c}, {tcpListener("t", port_, "app")}, {});
  await("/t", [](auto& r) { return r.status == 200; });
  std::string ejected = "app::127.0.0.1:" + std::to_string(dead) + "::health_flags::/failed_outlier_check";
  ASSERT_TRUE(eventually([&] {
    httpGet("127.0.0.1", port_, "/t");
    return admin("/clusters").find(ejected) != std::string::npos;
  }, 5s)) << admin("/clusters");
  EXPECT_NE(admin("/stats").find("cluster.app.outlier_detection.ejections_enforced_consecutive_5xx: 1\n"), std::string::npos);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(httpGet("127.0.0.1", port_, "/t").status, 200);  // only the live host now
}

// A changed cluster is built anew with a fresh detector, as Envoy's: its ejections end.
TEST_F(ProxyE2eTest, AChangedClusterStartsWithNoEjections) {
  Upstream good("good"), bad("bad", 500);
  auto c = staticCluster("c", {good.port(), bad.port()});
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "consecutive_5xx { value: 2 } interval { seconds: 10 } base_ejection_time { seconds: 60 } max_ejection_percent { value: 50 }",
      c.mutable_outlier_detection()));
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })");
  set({c}, {httpListener("l", port_, "rc")}, {routes});
  ASSERT_TRUE(eventually([&] {
    httpGet("127.0.0.1", port_, "/");
    return admin("/stats").find("cluster.c.outlier_detection.ejections_active: 1\n") != std::string::npos;
  })) << admin("/stats");
  c.mutable_connect_timeout()->set_seconds(3);  // a change
  set({c}, {httpListener("l", port_, "rc")}, {routes});
  EXPECT_TRUE(eventually([&] {
    return admin("/stats").find("cluster.c.outlier_detection.ejections_active: 0\n") != std::string::npos &&
           admin("/clusters").find("failed_outlier_check") == std::string::npos;
  })) << admin("/clusters");
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

// Two hosts, the bad one answering 500 to requests but passing its TCP health check every 200 ms;
// two 5xx eject it for a minute.
class HealthCheckUnejectE2eTest : public ProxyE2eTest {
 protected:
  void start(const std::string& more) {
    auto c = staticCluster("c", {good_.port(), bad_.port()});
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        "consecutive_5xx { value: 2 } interval { seconds: 10 } base_ejection_time { seconds: 60 } "
        "max_ejection_percent { value: 50 } " + more, c.mutable_outlier_detection()));
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        "timeout { seconds: 1 } interval { nanos: 200000000 } no_traffic_interval { nanos: 200000000 } "
        "unhealthy_threshold { value: 2 } "
        "healthy_threshold { value: 1 } tcp_health_check {}", c.add_health_checks()));
    set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
    await("/", [](auto& r) { return r.status == 200 || r.status == 500; });
    ASSERT_TRUE(eventually([&] {
      for (int i = 0; i < 4; ++i) httpGet("127.0.0.1", port_, "/");
      return !stat("ejections_enforced_consecutive_5xx: 0");
    }, 5s)) << admin("/stats");
  }
  bool stat(const std::string& line) { return admin("/stats").find("cluster.c.outlier_detection." + line + "\n") != std::string::npos; }

  Upstream good_{"good"}, bad_{"bad", 500};
};

// Envoy's successful_active_health_check_uneject_host (true by default): the next passing check
// brings the ejected host back, long before base_ejection_time.
TEST_F(HealthCheckUnejectE2eTest, APassingHealthCheckBringsAnEjectedHostBack) {
  start("");
  EXPECT_TRUE(eventually([&] { return stat("ejections_active: 0"); }, 3s)) << admin("/stats");
  EXPECT_EQ(admin("/clusters").find("failed_outlier_check"), std::string::npos) << admin("/clusters");
}

TEST_F(HealthCheckUnejectE2eTest, WithoutUnejectByHealthCheckTheHostStaysOut) {
  start("successful_active_health_check_uneject_host { value: false }");
  std::this_thread::sleep_for(1500ms);  // seven checks
  EXPECT_TRUE(stat("ejections_active: 1")) << admin("/stats");
  EXPECT_NE(admin("/clusters").find("failed_outlier_check"), std::string::npos);
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

// /clusters shows the last interval's rates as Envoy's: the cluster's mean and ejection threshold
// ({:g}) and each host's success rate, here with success rate ejection not enforced.
TEST_F(OutlierE2eTest, ClustersShowTheIntervalsSuccessRates) {
  start(500, R"(consecutive_5xx { value: 1000 } interval { nanos: 500000000 } enforcing_success_rate { value: 0 }
                max_ejection_percent { value: 50 } success_rate_request_volume { value: 2 })");
  EXPECT_NE(admin("/clusters").find("c::outlier::success_rate_average::-1\n"), std::string::npos);
  std::string good = "c::127.0.0.1:" + std::to_string(good_[0]->port()) + "::success_rate::100\n";
  std::string bad = "c::127.0.0.1:" + std::to_string(bad_->port()) + "::success_rate::0\n";
  // Four hosts at 100% and one at 0%: mean 80, stdev 40, threshold 80 - 1.9 × 40.
  EXPECT_TRUE(eventually([&] {
    for (int i = 0; i < 10; ++i) httpGet("127.0.0.1", port_, "/");
    std::string text = admin("/clusters");
    return text.find("c::outlier::success_rate_average::80\n") != std::string::npos &&
           text.find("c::outlier::success_rate_ejection_threshold::4\n") != std::string::npos &&
           text.find(good) != std::string::npos && text.find(bad) != std::string::npos;
  }, 8s)) << admin("/clusters");
  EXPECT_NE(admin("/clusters").find("c::outlier::local_origin_success_rate_average::-1\n"), std::string::npos);
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
