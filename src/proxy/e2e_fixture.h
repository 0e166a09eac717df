#pragma once
// The in-process end-to-end fixture: meshd's real ADS server (xds_server) feeding a meshproxy with
// two workers (or workers_, set by a derived fixture's constructor), and helpers to serve snapshots and wait for outcomes. Test code only.
#include <gtest/gtest.h>

#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <google/protobuf/text_format.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

#include "proxy/proxy.h"
#include "proxy/test_util.h"
#include "xds/ads_server.h"
#include "xds/resource_types.h"
#include "xds/snapshot_cache.h"

namespace meshd::proxy::testing {

using namespace std::chrono_literals;

template <typename F>
bool eventually(F f, std::chrono::milliseconds within = 10s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class ProxyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<xds::AdsServer>(cache_, [](const envoy::config::core::v3::Node& n) -> StatusOr<std::string> {
      return n.id();
    });
    auto port = server_->listen("127.0.0.1:0");
    ASSERT_TRUE(port.ok());
    envoy::config::bootstrap::v3::Bootstrap b;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
      node { id: "proxy" cluster: "test" }
      admin { address { socket_address { address: "127.0.0.1" port_value: 0 } } }
      dynamic_resources { ads_config { api_type: GRPC grpc_services { envoy_grpc { cluster_name: "xds" } } } }
      static_resources { clusters { name: "xds" type: STATIC load_assignment { cluster_name: "xds"
        endpoints { lb_endpoints { endpoint { address { socket_address { address: "127.0.0.1" port_value: )" +
                                                                  std::to_string(*port) + " } } } } } } } }",
                                                              &b));
    editBootstrap(b);
    proxy_ = std::make_unique<Proxy>(ProxyOptions{b, workers_});
    ASSERT_TRUE(proxy_->start().ok());
    // The ADS server's and the admin's ephemeral ports may be the one picked before they bound.
    while (port_ == *port || port_ == proxy_->adminPort()) port_ = freePort();
    thread_ = std::thread([this] { proxy_->run(); });
  }

  // A derived fixture's additions to the bootstrap (stats sinks, ...).
  virtual void editBootstrap(envoy::config::bootstrap::v3::Bootstrap&) {}

  void TearDown() override {
    proxy_->requestStop();
    thread_.join();
    proxy_.reset();
    server_->stop();
  }

  void set(const std::vector<envoy::config::cluster::v3::Cluster>& clusters,
           const std::vector<envoy::config::listener::v3::Listener>& listeners,
           const std::vector<envoy::config::route::v3::RouteConfiguration>& routes,
           const std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment>& endpoints = {}) {
    auto s = std::make_shared<xds::Snapshot>();
    for (const auto& c : clusters) s->resources[std::string(xds::kClusterType)][c.name()] = xds::makeResource(c.name(), c);
    for (const auto& l : listeners) s->resources[std::string(xds::kListenerType)][l.name()] = xds::makeResource(l.name(), l);
    for (const auto& r : routes) s->resources[std::string(xds::kRouteType)][r.name()] = xds::makeResource(r.name(), r);
    for (const auto& e : endpoints) {
      s->resources[std::string(xds::kEndpointType)][e.cluster_name()] = xds::makeResource(e.cluster_name(), e);
    }
    cache_.setSnapshot("proxy", s);
  }

  // Serves `target` through the listener on port_ until `ok` holds for the reply.
  HttpReply await(const std::string& target, const std::function<bool(const HttpReply&)>& ok, const std::string& host = "svc") {
    HttpReply r;
    eventually([&] {
      r = httpGet("127.0.0.1", port_, target, host);
      return ok(r);
    });
    return r;
  }

  // Cluster "c" over `ports` with an HTTP health check of /ping (1 s timeout; `timing` says the
  // interval and thresholds), served by listener "l" on port_.
  void serveCheckedCluster(const std::vector<int>& ports, const std::string& timing) {
    auto c = staticCluster("c", ports);
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        "timeout { seconds: 1 } " + timing + " http_health_check { path: \"/ping\" }", c.add_health_checks()));
    set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  }

  std::string admin(const std::string& path) { return httpGet("127.0.0.1", proxy_->adminPort(), path).body; }

  // Whether /clusters comes to show each host of `flags` (cluster, loopback port -> its
  // health_flags, e.g. "healthy" or "/failed_active_hc") within `within`; else what it showed.
  ::testing::AssertionResult healthSettles(const std::vector<std::tuple<std::string, int, std::string>>& flags,
                                           std::chrono::milliseconds within = 10s) {
    std::string clusters;
    bool settled = eventually([&] {
      clusters = admin("/clusters");
      for (const auto& [cluster, port, flag] : flags) {
        std::string line = cluster + "::127.0.0.1:" + std::to_string(port) + "::health_flags::" + flag + "\n";
        if (clusters.find(line) == std::string::npos) return false;
      }
      return true;
    }, within);
    if (settled) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << clusters;
  }

  xds::SnapshotCache cache_;
  std::unique_ptr<xds::AdsServer> server_;
  std::unique_ptr<Proxy> proxy_;
  std::thread thread_;
  int port_ = freePort();
  size_t workers_ = 2;
};

}  // namespace meshd::proxy::testing
