// Envoy's counters for what requests and connections came to: responses by code (cluster and
// connection manager), each host's counters in /clusters, and the tcp proxy's.
#include <unistd.h>

#include <future>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

class StatsE2eTest : public ProxyE2eTest {
 protected:
  // /stats as name -> value.
  std::map<std::string, uint64_t> stats() {
    std::map<std::string, uint64_t> out;
    std::istringstream in(admin("/stats"));
    std::string line;
    while (std::getline(in, line)) {
      size_t colon = line.rfind(": ");
      if (colon != std::string::npos) out[line.substr(0, colon)] = std::stoull(line.substr(colon + 2));
    }
    return out;
  }
  // How much counter `name` grew from `before` to `after` (absent counts as 0).
  static uint64_t grew(const std::map<std::string, uint64_t>& before, const std::map<std::string, uint64_t>& after,
                       const std::string& name) {
    auto value = [&name](const auto& m) { return m.count(name) ? m.at(name) : 0; };
    return value(after) - value(before);
  }
};

// Each request's final response (or the 503 a failure is answered with) counts under its code and
// class; a response that was retried counts under retry.*; the connection manager counts classes.
TEST_F(StatsE2eTest, ResponsesCountByCodeAndClass) {
  Upstream ok("ok"), sick("sick", 503);
  int closed = freePort();
  auto routes = routeConfig("rc", R"(
      routes { match { prefix: "/ok" } route { cluster: "ok" } }
      routes { match { prefix: "/sick" } route { cluster: "sick" retry_policy { retry_on: "5xx" num_retries { value: 1 } } } }
      routes { match { prefix: "/down" } route { cluster: "down" } })");
  set({staticCluster("ok", {ok.port()}), staticCluster("sick", {sick.port()}), staticCluster("down", {closed})},
      {httpListener("l", port_, "rc")}, {routes});
  await("/ok", [](auto& r) { return r.status == 200; });
  auto before = stats();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(httpGet("127.0.0.1", port_, "/ok").status, 200);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/sick").status, 503);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/down").status, 503);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/none").status, 404);
  auto after = stats();
  EXPECT_EQ(grew(before, after, "cluster.ok.upstream_rq_200"), 3u);
  EXPECT_EQ(grew(before, after, "cluster.ok.upstream_rq_2xx"), 3u);
  EXPECT_EQ(grew(before, after, "cluster.ok.upstream_rq_completed"), 3u);
  EXPECT_EQ(grew(before, after, "cluster.ok.external.upstream_rq_200"), 3u);  // no x-forwarded-for: external
  EXPECT_EQ(after.count("cluster.ok.internal.upstream_rq_200"), 0u);
  EXPECT_EQ(grew(before, after, "cluster.sick.upstream_rq_503"), 1u);  // the last try's
  EXPECT_EQ(grew(before, after, "cluster.sick.retry.upstream_rq_503"), 1u);
  EXPECT_EQ(grew(before, after, "cluster.sick.upstream_rq_total"), 2u);
  EXPECT_EQ(grew(before, after, "cluster.down.upstream_rq_503"), 1u);  // a connect failure's answer
  EXPECT_EQ(after.count("cluster.ok.upstream_rq_5xx"), 0u);  // created on first use, as Envoy's
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_rq_2xx"), 3u);
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_rq_4xx"), 1u);
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_rq_5xx"), 2u);
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_rq_completed"), 6u);
  EXPECT_EQ(after.at("http.ingress.downstream_rq_1xx"), 0u);  // the connection manager's exist from the start
  std::string prom = admin("/stats/prometheus");
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq{envoy_response_code=\"200\",envoy_cluster_name=\"ok\"} "), std::string::npos)
      << prom;
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"5\",envoy_cluster_name=\"down\"} 1\n"),
            std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_retry_upstream_rq{envoy_response_code=\"503\",envoy_cluster_name=\"sick\"} 1\n"),
            std::string::npos);
  EXPECT_NE(prom.find("envoy_http_downstream_rq_xx{envoy_response_code_class=\"4\",envoy_http_conn_manager_prefix=\"ingress\"} "),
            std::string::npos);
  EXPECT_NE(prom.find("# TYPE envoy_cluster_upstream_rq_completed counter\n"), std::string::npos);
  // Latency histograms with Envoy's buckets: a response relayed counts, a failure does not.
  EXPECT_NE(prom.find("# TYPE envoy_cluster_upstream_rq_time histogram\n"), std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"sick\",le=\"0.5\"} "), std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"sick\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"sick\"} 1\n"), std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"down\"} 0\n"), std::string::npos);
  EXPECT_NE(prom.find("envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix=\"ingress\",le=\"3600000\"} "),
            std::string::npos);
}

// /clusters as Envoy writes it: the circuit breakers, then each host's counters and health.
// The connection manager's gauges and per-codec counts, as Envoy's: a request waiting on a slow
// upstream is active on an active HTTP/1.1 connection; both go back to 0 when they end.
TEST_F(StatsE2eTest, ActiveRequestsAndConnectionsAreGauges) {
  Upstream slow("slow", 200, 3000ms);
  set({staticCluster("c", {slow.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  auto before = stats();
  auto pending = std::async(std::launch::async, [&] { return httpGet("127.0.0.1", port_, "/slow").status; });
  EXPECT_TRUE(eventually([&] {
    auto now = stats();
    return now["http.ingress.downstream_rq_active"] == 1 && now["http.ingress.downstream_cx_active"] == 1 &&
           now["http.ingress.downstream_cx_http1_active"] == 1;
  }, 2500ms)) << admin("/stats");
  EXPECT_EQ(pending.get(), 200);
  EXPECT_TRUE(eventually([&] {
    auto now = stats();
    return now["http.ingress.downstream_rq_active"] == 0 && now["http.ingress.downstream_cx_active"] == 0;
  })) << admin("/stats");
  auto after = stats();
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_rq_http1_total"), 1u);
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_cx_http1_total"), 1u);
  EXPECT_EQ(after["http.ingress.downstream_cx_http2_total"], 0u);
  EXPECT_NE(admin("/stats/prometheus").find("# TYPE envoy_http_downstream_rq_active gauge"), std::string::npos);
}

TEST_F(StatsE2eTest, ClustersListEachHostsCounters) {
  Upstream ok("ok"), sick("sick", 503);
  int closed = freePort();
  auto routes = routeConfig("rc", R"(
      routes { match { prefix: "/ok" } route { cluster: "ok" } }
      routes { match { prefix: "/sick" } route { cluster: "sick" } }
      routes { match { prefix: "/down" } route { cluster: "down" } })");
  auto capped = staticCluster("ok", {ok.port()});
  capped.mutable_circuit_breakers()->add_thresholds()->mutable_max_connections()->set_value(7);
  set({capped, staticCluster("sick", {sick.port()}), staticCluster("down", {closed})}, {httpListener("l", port_, "rc")},
      {routes});
  await("/ok", [](auto& r) { return r.status == 200; });
  std::string okHost = "ok::127.0.0.1:" + std::to_string(ok.port()) + "::";
  uint64_t served = 0;
  {
    std::istringstream in(admin("/clusters"));
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(okHost + "rq_success::")) served = std::stoull(line.substr(okHost.size() + 12));
    }
  }
  ASSERT_GE(served, 1u);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/ok").status, 200);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/sick").status, 503);
  ASSERT_EQ(httpGet("127.0.0.1", port_, "/down").status, 503);
  std::string clusters = admin("/clusters");
  auto has = [&clusters](const std::string& line) { return clusters.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("ok::observability_name::ok")) << clusters;
  EXPECT_TRUE(has("ok::default_priority::max_connections::7"));
  EXPECT_TRUE(has("ok::default_priority::max_retries::3"));
  EXPECT_TRUE(has("ok::high_priority::max_requests::1024"));
  EXPECT_TRUE(has("ok::added_via_api::true"));
  EXPECT_TRUE(has(okHost + "rq_success::" + std::to_string(served + 1)));
  EXPECT_TRUE(has(okHost + "rq_total::" + std::to_string(served + 1)));
  EXPECT_TRUE(has(okHost + "rq_error::0"));
  EXPECT_TRUE(has(okHost + "rq_active::0"));
  EXPECT_TRUE(has(okHost + "weight::1"));
  EXPECT_TRUE(has(okHost + "health_flags::healthy"));
  std::string sickHost = "sick::127.0.0.1:" + std::to_string(sick.port()) + "::";
  EXPECT_TRUE(has(sickHost + "rq_error::1"));
  EXPECT_TRUE(has(sickHost + "rq_success::0"));
  EXPECT_TRUE(has(sickHost + "cx_total::1"));
  std::string downHost = "down::127.0.0.1:" + std::to_string(closed) + "::";
  EXPECT_TRUE(has(downHost + "cx_connect_fail::1"));
  EXPECT_TRUE(has(downHost + "cx_active::0"));
  EXPECT_TRUE(has(downHost + "rq_error::1"));

  // format=json: Envoy's admin.v3.Clusters (snake_case, zero values left out, counts as strings).
  auto doc = nlohmann::json::parse(admin("/clusters?format=json"), nullptr, false);
  ASSERT_TRUE(doc.contains("cluster_statuses")) << admin("/clusters?format=json");
  nlohmann::json okStatus, downStatus;
  for (const auto& c : doc["cluster_statuses"]) {
    if (c["name"] == "ok") okStatus = c;
    if (c["name"] == "down") downStatus = c;
  }
  ASSERT_FALSE(okStatus.is_null()) << doc.dump(1);
  EXPECT_EQ(okStatus["added_via_api"], true);
  EXPECT_EQ(okStatus["circuit_breakers"]["thresholds"][0]["max_connections"], 7);
  EXPECT_EQ(okStatus["circuit_breakers"]["thresholds"][1]["priority"], "HIGH");
  const auto& host = okStatus["host_statuses"][0];
  EXPECT_EQ(host["address"]["socket_address"]["port_value"], ok.port());
  EXPECT_EQ(host["health_status"]["eds_health_status"], "HEALTHY");
  EXPECT_FALSE(host["health_status"].contains("failed_active_health_check"));
  EXPECT_EQ(host["weight"], 1);
  std::map<std::string, nlohmann::json> hostStats;
  for (const auto& st : host["stats"]) hostStats[st["name"]] = st;
  EXPECT_EQ(hostStats["rq_success"]["value"], std::to_string(served + 1));
  EXPECT_FALSE(hostStats["rq_error"].contains("value"));  // zero
  EXPECT_EQ(hostStats["cx_active"]["type"], "GAUGE");
  EXPECT_FALSE(hostStats["rq_total"].contains("type"));   // a counter, the default
  std::map<std::string, nlohmann::json> downStats;
  for (const auto& st : downStatus["host_statuses"][0]["stats"]) downStats[st["name"]] = st;
  EXPECT_EQ(downStats["cx_connect_fail"]["value"], "1");

  auto listeners = nlohmann::json::parse(admin("/listeners?format=json"), nullptr, false);
  ASSERT_EQ(listeners["listener_statuses"].size(), 1u) << listeners.dump(1);
  EXPECT_EQ(listeners["listener_statuses"][0]["name"], "l");
  EXPECT_EQ(listeners["listener_statuses"][0]["local_address"]["socket_address"]["port_value"], port_);
}

// Envoy's byte counters: what the listener's connections read and wrote
// (http.<prefix>.downstream_cx_rx|tx_bytes_total) and the cluster's (upstream_cx_rx|tx_bytes_total).
TEST_F(StatsE2eTest, HttpConnectionsCountTheirBytes) {
  Upstream app("app");
  set({staticCluster("c", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  // A session counts its last bytes before it ends: with no connection open, the counts are still.
  const std::string open = "listener.127.0.0.1_" + std::to_string(port_) + ".downstream_cx_active";
  ASSERT_TRUE(eventually([&] { return stats()[open] == 0; }));
  auto before = stats();
  const std::string request = "GET /bytes HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n\r\n";
  int fd = connectLoopback(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, request);
  std::string reply = readToClose(fd).first;
  ::close(fd);
  ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  std::map<std::string, uint64_t> after;
  ASSERT_TRUE(eventually([&] {
    after = stats();
    return after[open] == 0 && grew(before, after, "http.ingress.downstream_cx_tx_bytes_total") == reply.size();
  })) << grew(before, after, "http.ingress.downstream_cx_tx_bytes_total") << " of " << reply.size();
  EXPECT_EQ(grew(before, after, "http.ingress.downstream_cx_rx_bytes_total"), request.size());
  EXPECT_EQ(grew(before, after, "cluster.c.upstream_cx_tx_bytes_total"), app.lastHead().size());
  EXPECT_GT(grew(before, after, "cluster.c.upstream_cx_rx_bytes_total"), 0u);
}

// Envoy's listener stats under the listener's address (listener.127.0.0.1_<port>.*): connections
// a filter chain took, open and closed, how long they lasted; those in the listener filters and
// those they timed out; those no filter chain matched. Prometheus tags the address.
TEST_F(StatsE2eTest, ListenersCountTheirConnections) {
  Upstream app("app");
  auto l = httpListener("l", port_, "rc");
  int silent = freePort();
  auto inspecting = tcpListener("inspecting", silent, "c");
  inspecting.add_listener_filters()->set_name("envoy.filters.listener.tls_inspector");
  inspecting.mutable_listener_filters_timeout()->set_nanos(100000000);
  int unmatched = freePort();
  auto picky = tcpListener("picky", unmatched, "c");
  picky.mutable_filter_chains(0)->mutable_filter_chain_match()->mutable_destination_port()->set_value(1);
  set({staticCluster("c", {app.port()})}, {l, inspecting, picky},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  const std::string prefix = "listener.127.0.0.1_" + std::to_string(port_) + ".";
  ASSERT_TRUE(eventually([&] { return stats()[prefix + "downstream_cx_active"] == 0; }));
  auto before = stats();
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
  for (int port : {silent, unmatched}) {
    int fd = connectLoopback(port);
    ASSERT_GE(fd, 0);
    readToClose(fd);  // the inspector gives up after 100 ms; the picky listener closes at once
    ::close(fd);
  }
  std::map<std::string, uint64_t> after;
  ASSERT_TRUE(eventually([&] {
    after = stats();
    return grew(before, after, prefix + "downstream_cx_destroy") == 1;
  }));
  EXPECT_EQ(grew(before, after, prefix + "downstream_cx_total"), 1u);
  EXPECT_EQ(after.at(prefix + "downstream_cx_active"), 0u);
  EXPECT_EQ(after.at(prefix + "no_filter_chain_match"), 0u);
  const std::string inspected = "listener.127.0.0.1_" + std::to_string(silent) + ".";
  EXPECT_EQ(grew(before, after, inspected + "downstream_pre_cx_timeout"), 1u);
  EXPECT_EQ(after.at(inspected + "downstream_pre_cx_active"), 0u);
  EXPECT_EQ(grew(before, after, inspected + "downstream_cx_total"), 0u);
  EXPECT_EQ(grew(before, after, "listener.127.0.0.1_" + std::to_string(unmatched) + ".no_filter_chain_match"), 1u);
  std::string prom = admin("/stats/prometheus");
  EXPECT_NE(prom.find("envoy_listener_downstream_cx_total{envoy_listener_address=\"127.0.0.1_" + std::to_string(port_) + "\"} "),
            std::string::npos);
  EXPECT_NE(prom.find("envoy_listener_downstream_cx_length_ms_count{envoy_listener_address=\"127.0.0.1_" +
                      std::to_string(port_) + "\"} "),
            std::string::npos);
}

// The tcp proxy's counters: connections, bytes each way, and connections whose cluster is missing.
TEST_F(StatsE2eTest, TcpProxyCountsConnectionsAndBytes) {
  Upstream app("tcp-app");
  set({staticCluster("app", {app.port()})}, {tcpListener("t", port_, "app")}, {});
  auto r = await("/t", [](auto& r) { return r.status == 200; });
  // Both directions end a moment after the client has its reply; the connection leaves its
  // listener's cx_active once both are done, after their last counts.
  const std::string open = "listener.127.0.0.1_" + std::to_string(port_) + ".downstream_cx_active";
  ASSERT_TRUE(eventually([&] { return stats()[open] == 0; }));
  auto before = stats();
  r = httpGet("127.0.0.1", port_, "/bytes");
  ASSERT_EQ(r.status, 200);
  std::map<std::string, uint64_t> after;
  ASSERT_TRUE(eventually([&] {
    after = stats();
    return after[open] == 0 && grew(before, after, "tcp.tcp.downstream_cx_total") == 1;
  }));
  EXPECT_EQ(grew(before, after, "tcp.tcp.downstream_cx_total"), 1u);
  EXPECT_GT(grew(before, after, "tcp.tcp.downstream_cx_rx_bytes_total"), 20u);  // the request
  EXPECT_GT(grew(before, after, "tcp.tcp.downstream_cx_tx_bytes_total"), r.body.size());  // the response
  EXPECT_EQ(after.at("tcp.tcp.downstream_cx_no_route"), 0u);
  // The cluster's connections carried the same bytes, the other way round.
  EXPECT_EQ(grew(before, after, "cluster.app.upstream_cx_tx_bytes_total"), grew(before, after, "tcp.tcp.downstream_cx_rx_bytes_total"));
  EXPECT_EQ(grew(before, after, "cluster.app.upstream_cx_rx_bytes_total"), grew(before, after, "tcp.tcp.downstream_cx_tx_bytes_total"));
  // A cluster that is not there: the connection closes and counts as having no route.
  int listener = freePort();
  set({staticCluster("app", {app.port()})}, {tcpListener("t", port_, "app"), tcpListener("m", listener, "nowhere")}, {});
  ASSERT_TRUE(eventually([&] {
    int fd = connectLoopback(listener);
    if (fd < 0) return false;
    readToClose(fd);
    ::close(fd);
    return stats()["tcp.tcp.downstream_cx_no_route"] >= 1;
  }));
}

// Envoy's server, control plane and manager stats: what a dashboard watches (server.live,
// control_plane.connected_state, the xDS subscriptions' updates, cluster membership).
TEST_F(StatsE2eTest, ServerControlPlaneAndMembershipStats) {
  Upstream a("a"), b("b");
  int closed = freePort();
  auto routes = routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })");
  set({staticCluster("app", {a.port(), b.port(), closed})}, {httpListener("l", port_, "rc")}, {routes});
  await("/", [](auto& r) { return r.status == 200; });
  ASSERT_TRUE(eventually([&] { return admin("/ready") == "LIVE\n"; }));
  auto s = stats();
  EXPECT_EQ(s["server.live"], 1u);
  EXPECT_EQ(s["server.state"], 0u);
  EXPECT_EQ(s["server.concurrency"], 2u);
  EXPECT_EQ(s["control_plane.connected_state"], 1u);
  EXPECT_GE(s["cluster_manager.cds.update_success"], 1u);
  EXPECT_GE(s["listener_manager.lds.update_success"], 1u);
  EXPECT_EQ(s["cluster_manager.cds.update_rejected"], 0u);
  EXPECT_EQ(s["cluster_manager.active_clusters"], 1u);
  EXPECT_EQ(s["cluster_manager.warming_clusters"], 0u);
  EXPECT_EQ(s["listener_manager.total_listeners_active"], 1u);
  EXPECT_EQ(s["cluster.app.membership_total"], 3u);
  EXPECT_EQ(s["cluster.app.membership_healthy"], 3u);  // no health checks: all of them
  // A cluster Envoy would reject: NACKed, counted, and the last good one serves on.
  auto bad = staticCluster("odd", {a.port()});
  bad.set_type(envoy::config::cluster::v3::Cluster::ORIGINAL_DST);
  set({staticCluster("app", {a.port(), b.port(), closed}), bad}, {httpListener("l", port_, "rc")}, {routes});
  ASSERT_TRUE(eventually([&] { return stats()["cluster_manager.cds.update_rejected"] == 1; })) << admin("/stats");
  EXPECT_EQ(stats()["cluster_manager.active_clusters"], 1u);
  std::string prom = admin("/stats/prometheus");
  EXPECT_NE(prom.find("# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("envoy_control_plane_connected_state{} 1\n"), std::string::npos);
  EXPECT_NE(prom.find("# TYPE envoy_cluster_manager_cds_update_rejected counter\n"), std::string::npos);
  EXPECT_NE(prom.find("envoy_cluster_membership_healthy{envoy_cluster_name=\"app\"} 3\n"), std::string::npos);
}

}  // namespace
}  // namespace meshd::proxy::testing
