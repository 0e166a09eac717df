// The admin endpoints that change the server, as Envoy's: POST /drain_listeners and
// /healthcheck/fail|ok (what the App Mesh / ECS agent calls when a task stops).
#include <unistd.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "proxy/e2e_fixture.h"
#include "proxy/loggers.h"

namespace meshd::proxy::testing {
namespace {

class AdminE2eTest : public ProxyE2eTest {
 protected:
  // One admin request with `method`; the whole reply.
  std::string call(const std::string& method, const std::string& target) {
    int fd = connectLoopback(proxy_->adminPort());
    if (fd < 0) return "";
    sendAll(fd, method + " " + target + " HTTP/1.1\r\nhost: admin\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    std::string reply = readToClose(fd).first;
    ::close(fd);
    return reply;
  }

  // Listener "in" (INBOUND) on port_ and "out" (OUTBOUND) on outPort_, both to cluster "app".
  void serveTwoListeners(int appPort) {
    auto in = httpListener("in", port_, "rc");
    in.set_traffic_direction(envoy::config::core::v3::INBOUND);
    auto out = httpListener("out", outPort_, "rc");
    out.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    set({staticCluster("app", {appPort})}, {in, out},
        {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
    await("/", [](auto& r) { return r.status == 200; });
    ASSERT_TRUE(eventually([&] { return httpGet("127.0.0.1", outPort_, "/").status == 200; }));
  }

  void SetUp() override {
    ProxyE2eTest::SetUp();
    // Picked once the ADS server and the admin are bound, so it is neither of theirs.
    do outPort_ = freePort();
    while (outPort_ == port_);
  }

  int outPort_ = 0;
};

// POST /quitquitquit, as Envoy's: "OK", then the server stops (its listeners and admin close);
// a GET is refused.
TEST_F(AdminE2eTest, QuitQuitQuitStopsTheServer) {
  Upstream app("app");
  serveTwoListeners(app.port());
  EXPECT_NE(call("GET", "/quitquitquit").find("405"), std::string::npos);
  std::string reply = call("POST", "/quitquitquit");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nOK\n")) << reply;
  EXPECT_TRUE(eventually([&] {
    int fd = connectLoopback(proxy_->adminPort());
    if (fd >= 0) ::close(fd);
    return fd < 0;
  }, 3s));
}

// The bootstrap's CDS and LDS initial_fetch_timeout (what meshd's ENVOY_INITIAL_FETCH_TIMEOUT
// sets): with no answer from the management server (here it has nothing for this node), the
// proxy goes LIVE once they pass (CDS's, then LDS's, as Envoy subscribes to LDS after CDS); with 0
// it waits for ever.
class InitialFetchE2eTest : public ProxyE2eTest {
 protected:
  void editBootstrap(envoy::config::bootstrap::v3::Bootstrap& b) override {
    for (auto* source : {b.mutable_dynamic_resources()->mutable_cds_config(), b.mutable_dynamic_resources()->mutable_lds_config()}) {
      source->mutable_ads();
      source->mutable_initial_fetch_timeout()->set_seconds(seconds_);
    }
  }
  int seconds_ = 2;
};

TEST_F(InitialFetchE2eTest, NoAnswerWithinTheTimeoutStillGoesLive) {
  EXPECT_NE(admin("/server_info").find("PRE_INITIALIZING"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return admin("/server_info").find("\"LIVE\"") != std::string::npos; }, 10s))
      << admin("/server_info");
}

class NoInitialFetchTimeoutE2eTest : public InitialFetchE2eTest {
 protected:
  NoInitialFetchTimeoutE2eTest() { seconds_ = 0; }
};

TEST_F(NoInitialFetchTimeoutE2eTest, WithoutOneItWaitsForTheFirstAnswer) {
  std::this_thread::sleep_for(2500ms);
  EXPECT_NE(admin("/server_info").find("PRE_INITIALIZING"), std::string::npos) << admin("/server_info");
}

// Without graceful, the inbound listeners stop accepting at once; a connection they accepted goes on.
TEST_F(AdminE2eTest, DrainListenersInboundOnlyStopsTheInboundListeners) {
  Upstream app("app", 200, std::chrono::milliseconds(0), true);
  serveTwoListeners(app.port());
  KeepAliveClient kept("127.0.0.1", port_);
  ASSERT_EQ(kept.get("/before").status, 200);
  EXPECT_NE(call("GET", "/drain_listeners?inboundonly").find("405"), std::string::npos);  // POST only
  std::string reply = call("POST", "/drain_listeners?inboundonly");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nOK\n")) << reply;
  EXPECT_TRUE(eventually([&] { return httpGet("127.0.0.1", port_, "/").status == 0; }));  // refused
  EXPECT_EQ(httpGet("127.0.0.1", outPort_, "/").status, 200);  // the outbound one serves on
  HttpReply after = kept.get("/after");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.head.find("connection: close"), std::string::npos) << after.head;  // not drained
  // An inbound listener that comes later does not start either.
  int later = freePort();
  auto in = httpListener("in", port_, "rc"), out = httpListener("out", outPort_, "rc"), in2 = httpListener("in2", later, "rc");
  in.set_traffic_direction(envoy::config::core::v3::INBOUND);
  in2.set_traffic_direction(envoy::config::core::v3::INBOUND);
  out.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  set({staticCluster("app", {app.port()})}, {in, out, in2},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  ASSERT_TRUE(eventually([&] { return admin("/listeners").find("in2::") != std::string::npos; }));
  EXPECT_EQ(httpGet("127.0.0.1", later, "/").status, 0);
}

// Graceful: the connections drain (the next response says connection: close) while the listeners
// still accept, until the drain time ends.
TEST_F(AdminE2eTest, GracefulDrainClosesConnectionsAfterTheirNextResponse) {
  Upstream app("app", 200, std::chrono::milliseconds(0), true);
  serveTwoListeners(app.port());
  KeepAliveClient kept("127.0.0.1", port_);
  ASSERT_EQ(kept.get("/before").status, 200);
  EXPECT_TRUE(call("POST", "/drain_listeners?graceful").starts_with("HTTP/1.1 200"));
  std::this_thread::sleep_for(300ms);  // the drain reaches the workers with the next configuration
  // The kept connection is closed while idle, or answers its next request with connection: close.
  kept.send("/after");
  HttpReply after = kept.read();
  EXPECT_TRUE(after.status == 0 || after.head.find("connection: close") != std::string::npos) << after.head;
  EXPECT_EQ(httpGet("127.0.0.1", outPort_, "/").status, 200);  // still accepting (600 s drain time)
}

// /healthcheck/fail: the server says DRAINING (and /ready fails) until /healthcheck/ok.
TEST_F(AdminE2eTest, HealthcheckFailMakesTheServerDraining) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  ASSERT_TRUE(eventually([&] { return admin("/ready") == "LIVE\n"; }));
  EXPECT_TRUE(call("POST", "/healthcheck/fail").starts_with("HTTP/1.1 200"));
  auto ready = httpGet("127.0.0.1", proxy_->adminPort(), "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "DRAINING\n");
  EXPECT_NE(admin("/server_info").find("\"state\": \"DRAINING\""), std::string::npos);
  EXPECT_NE(admin("/stats").find("server.live: 0\n"), std::string::npos);
  EXPECT_NE(admin("/stats").find("server.state: 1\n"), std::string::npos);
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);  // traffic goes on
  EXPECT_TRUE(call("POST", "/healthcheck/ok").starts_with("HTTP/1.1 200"));
  EXPECT_EQ(admin("/ready"), "LIVE\n");
}

// /stats takes Envoy's query: filter (RE2, anywhere in the name), usedonly, format=json|prometheus.
TEST_F(AdminE2eTest, StatsFilterUsedOnlyAndFormats) {
  Upstream app("app");
  set({staticCluster("app", {app.port()})}, {httpListener("l", port_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  std::string filtered = admin("/stats?filter=upstream_rq_2..$");
  EXPECT_NE(filtered.find("cluster.app.upstream_rq_200: "), std::string::npos) << filtered;
  EXPECT_EQ(filtered.find("upstream_cx_total"), std::string::npos) << filtered;
  std::string used = admin("/stats?usedonly&filter=cluster%5C.app%5C.upstream_cx");  // cluster\.app\.upstream_cx
  EXPECT_NE(used.find("cluster.app.upstream_cx_total: "), std::string::npos) << used;
  EXPECT_EQ(used.find("cluster.app.upstream_cx_overflow"), std::string::npos) << used;  // never counted
  std::string json = admin("/stats?format=json&filter=server.live");
  EXPECT_EQ(json, "{\"stats\":[{\"name\":\"server.live\",\"value\":1}]}\n");
  EXPECT_NE(admin("/stats?format=prometheus&filter=server.live").find("envoy_server_live{} 1\n"), std::string::npos);
  EXPECT_EQ(httpGet("127.0.0.1", proxy_->adminPort(), "/stats?filter=(").status, 400);
}

// POST /reset_counters, as Envoy's: "OK", and every counter counts from 0 again; gauges stay.
TEST_F(AdminE2eTest, ResetCountersZeroesCountersNotGauges) {
  Upstream app("app");
  serveTwoListeners(app.port());
  auto stat = [&](const std::string& name) {
    std::string all = admin("/stats");
    size_t at = all.find("\n" + name + ": ");
    if (at == std::string::npos) return std::string("absent");
    at += name.size() + 3;
    return all.substr(at, all.find('\n', at) + 1 - at);
  };
  EXPECT_NE(stat("cluster.app.upstream_rq_total"), "0\n");
  EXPECT_EQ(stat("cluster.app.membership_total"), "1\n");
  EXPECT_NE(call("GET", "/reset_counters").find("405"), std::string::npos);
  std::string reply = call("POST", "/reset_counters");
  EXPECT_TRUE(reply.ends_with("\r\n\r\nOK\n")) << reply;
  EXPECT_EQ(stat("cluster.app.upstream_rq_total"), "0\n");
  EXPECT_EQ(stat("http.ingress.downstream_rq_total"), "0\n");
  EXPECT_EQ(stat("cluster.app.membership_total"), "1\n");  // a gauge
  EXPECT_EQ(httpGet("127.0.0.1", port_, "/").status, 200);
  EXPECT_EQ(stat("cluster.app.upstream_rq_total"), "1\n");
  EXPECT_NE(admin("/stats?format=prometheus").find("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"app\"} 1\n"),
            std::string::npos);
}

// GET /memory: Envoy's admin.v3.Memory (the allocator's figures), and the server.memory_* gauges.
TEST_F(AdminE2eTest, MemoryReportsTheAllocator) {
  std::string memory = admin("/memory");
  EXPECT_TRUE(std::regex_match(memory, std::regex("\\{\n \"allocated\": \"[1-9][0-9]*\",\n \"heap_size\": \"[1-9][0-9]*\",\n"
                                                  " \"pageheap_unmapped\": \"[0-9]+\",\n \"pageheap_free\": \"[0-9]+\",\n"
                                                  " \"total_thread_cache\": \"[0-9]+\",\n \"total_physical_bytes\": \"[1-9][0-9]*\"\n\\}\n")))
      << memory;
  std::string stats = admin("/stats?filter=server.memory");
  EXPECT_TRUE(std::regex_match(stats, std::regex("server.memory_allocated: [1-9][0-9]*\nserver.memory_heap_size: [1-9][0-9]*\n"
                                                 "server.memory_physical_size: [1-9][0-9]*\n")))
      << stats;
}

// GET /config_dump as Envoy's: admin.v3.ConfigDump with the bootstrap first, printed by protobuf
// (one-space indents); ?include_eds adds the endpoints as the load balancer sees them; ?resource=
// lists one repeated field's items, ?mask= trims, ?name_regex= picks resources by name.
TEST_F(AdminE2eTest, ConfigDumpSectionsResourceMaskAndEds) {
  Upstream app("app");
  serveTwoListeners(app.port());
  nlohmann::json dump = nlohmann::json::parse(admin("/config_dump"));
  std::vector<std::string> types;
  for (const auto& c : dump["configs"]) types.push_back(c["@type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
                                             "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                                             "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
                                             "type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump",
                                             "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
                                             "type.googleapis.com/envoy.admin.v3.SecretsConfigDump"}));
  EXPECT_EQ(dump["configs"][0]["bootstrap"]["node"]["id"], "proxy");
  EXPECT_EQ(dump["configs"][1]["static_clusters"][0]["cluster"]["name"], "xds");
  EXPECT_EQ(dump["configs"][1]["dynamic_active_clusters"][0]["cluster"]["name"], "app");
  EXPECT_TRUE(std::regex_match(dump["configs"][1]["dynamic_active_clusters"][0]["last_updated"].get<std::string>(),
                               std::regex(R"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z)")));
  EXPECT_EQ(dump["configs"][2]["dynamic_listeners"][0]["active_state"]["listener"]["name"], "in");
  EXPECT_EQ(dump["configs"][4]["dynamic_route_configs"][0]["route_config"]["name"], "rc");
  EXPECT_TRUE(admin("/config_dump").starts_with("{\n \"configs\": [\n  {\n   \"@type\": "));

  nlohmann::json eds = nlohmann::json::parse(admin("/config_dump?include_eds"));
  ASSERT_EQ(eds["configs"].size(), 7u);
  const auto& endpoints = eds["configs"][2];
  EXPECT_EQ(endpoints["@type"], "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump");
  const auto& cla = endpoints["dynamic_endpoint_configs"][0]["endpoint_config"];
  EXPECT_EQ(cla["cluster_name"], "app");
  const auto& lb = cla["endpoints"][0]["lb_endpoints"][0];
  EXPECT_EQ(lb["health_status"], "HEALTHY");
  EXPECT_EQ(lb["endpoint"]["address"]["socket_address"]["port_value"], app.port());

  nlohmann::json one = nlohmann::json::parse(admin("/config_dump?resource=dynamic_listeners&mask=name&name_regex=^o"));
  EXPECT_EQ(one, nlohmann::json::parse(
                     R"({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener", "name": "out"}]})"));
  nlohmann::json names = nlohmann::json::parse(admin("/config_dump?resource=dynamic_active_clusters&mask=cluster.name"));
  EXPECT_EQ(names["configs"][0]["cluster"], nlohmann::json::parse(R"({"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "app"})"));
  nlohmann::json versions = nlohmann::json::parse(admin("/config_dump?mask=version_info"));
  EXPECT_EQ(versions["configs"].size(), 2u);  // the clusters' and the listeners'

  HttpReply missing = httpGet("127.0.0.1", proxy_->adminPort(), "/config_dump?resource=nosuch");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "nosuch not found in config dump");
  HttpReply single = httpGet("127.0.0.1", proxy_->adminPort(), "/config_dump?resource=version_info");
  EXPECT_EQ(single.status, 400);
  EXPECT_EQ(single.body, "version_info is not a repeated field. Use ?mask=version_info to get only this field");
  HttpReply badMask = httpGet("127.0.0.1", proxy_->adminPort(), "/config_dump?mask=nosuch");
  EXPECT_EQ(badMask.status, 400);
  EXPECT_EQ(badMask.body, "FieldMask nosuch could not be successfully applied to any configs.");

  // A resource's version_info is that of the response that last changed it, as Envoy's: a CDS
  // response that adds a cluster leaves the kept one's as it was.
  std::string was = dump["configs"][1]["version_info"];
  EXPECT_EQ(dump["configs"][1]["dynamic_active_clusters"][0]["version_info"], was);
  set({staticCluster("app", {app.port()}), staticCluster("more", {app.port()})},
      {httpListener("in", port_, "rc"), httpListener("out", outPort_, "rc")},
      {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "app" } })")});
  nlohmann::json later;
  ASSERT_TRUE(eventually([&] {
    later = nlohmann::json::parse(admin("/config_dump?resource=dynamic_active_clusters"));
    return later["configs"].size() == 2;
  }));
  EXPECT_EQ(later["configs"][0]["cluster"]["name"], "app");
  EXPECT_EQ(later["configs"][0]["version_info"], was);
  EXPECT_NE(later["configs"][1]["version_info"], was);
  EXPECT_EQ(later["configs"][1]["version_info"], nlohmann::json::parse(admin("/config_dump"))["configs"][1]["version_info"]);
}

// POST /logging, as Envoy's (the App Mesh agent's /enableLogging posts ?level=<level> there):
// every named logger's level, after the change the query asks for; a wrong query changes nothing
// and is a 400 with Envoy's usage text.
TEST_F(AdminE2eTest, LoggingListsAndChangesTheNamedLoggers) {
  auto body = [](const std::string& reply) { return reply.substr(reply.find("\r\n\r\n") + 4); };
  // The levels are the process's: the next tests get them back as they were.
  std::vector<spdlog::level::level_enum> were;
  for (auto* l : allLoggers()) were.push_back(l->level());
  auto defaultWas = spdlog::default_logger()->level();
  struct Restore {
    std::vector<spdlog::level::level_enum>& were;
    spdlog::level::level_enum defaultWas;
    ~Restore() {
      size_t i = 0;
      for (auto* l : allLoggers()) l->set_level(were[i++]);
      spdlog::default_logger()->set_level(defaultWas);
    }
  } restore{were, defaultWas};
  EXPECT_NE(call("GET", "/logging").find("405"), std::string::npos);

  std::string all = call("POST", "/logging?level=debug");
  EXPECT_TRUE(all.starts_with("HTTP/1.1 200")) << all;
  EXPECT_TRUE(body(all).starts_with("active loggers:\n  admin: debug\n  config: debug\n")) << all;
  EXPECT_TRUE(body(all).ends_with("  upstream: debug\n\n")) << all;
  EXPECT_EQ(logger(Log::kRouter).level(), spdlog::level::debug);

  std::string one = body(call("POST", "/logging?router=trace"));
  EXPECT_NE(one.find("  router: trace\n"), std::string::npos) << one;
  EXPECT_NE(one.find("  pool: debug\n"), std::string::npos) << one;
  EXPECT_EQ(logger(Log::kRouter).level(), spdlog::level::trace);

  std::string some = body(call("POST", "/logging?paths=hc:error,dns:off"));
  EXPECT_NE(some.find("  hc: error\n"), std::string::npos) << some;
  EXPECT_NE(some.find("  dns: off\n"), std::string::npos) << some;

  std::string wrong = call("POST", "/logging?level=warn");  // Envoy's name is "warning"
  EXPECT_TRUE(wrong.starts_with("HTTP/1.1 400")) << wrong;
  EXPECT_TRUE(body(wrong).starts_with("error: unknown logger level\n\n"
                                      "usage: /logging?<name>=<level> (change single level)\n"
                                      "usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n"
                                      "usage: /logging?level=<level> (change all levels)\n"
                                      "levels: trace debug info warning error critical off \n"
                                      "active loggers:\n"))
      << wrong;
  EXPECT_NE(body(call("POST", "/logging?paths=hc:info,nosuch:info")).find("error: unknown logger name\n"), std::string::npos);
  EXPECT_EQ(logger(Log::kHc).level(), spdlog::level::err);  // the valid half did not land either
  EXPECT_NE(body(call("POST", "/logging?a=info&b=info")).find("error: invalid number of parameters\n"), std::string::npos);

  call("POST", "/logging?level=info");
  EXPECT_EQ(logger(Log::kRouter).level(), spdlog::level::info);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
}

}  // namespace
}  // namespace meshd::proxy::testing
