// The layered runtime through the admin, as Envoy's: GET /runtime shows the layers, POST
// /runtime_modify changes the admin layer, and what a key overrides changes at once
// (upstream.healthy_panic_threshold here).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

// One admin request; the whole reply.
std::string adminCall(int port, const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& contentType = "") {
  int fd = connectLoopback(port);
  if (fd < 0) return "";
  std::string head = method + " " + target + " HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n";
  if (!contentType.empty()) head += "content-type: " + contentType + "\r\n";
  sendAll(fd, head + "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string reply = readToClose(fd).first;
  ::close(fd);
  return reply;
}

class RuntimeE2eTest : public ProxyE2eTest {
 protected:
  void editBootstrap(envoy::config::bootstrap::v3::Bootstrap& b) override {
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
      layers { name: "static_layer_0" static_layer { fields { key: "upstream" value { struct_value {
        fields { key: "healthy_panic_threshold" value { number_value: 0 } } } } }
        fields { key: "re2.max_program_size.error_level" value { number_value: 1000 } } } }
      layers { name: "admin_layer" admin_layer {} })",
                                                              b.mutable_layered_runtime()));
  }
  std::string call(const std::string& method, const std::string& target, const std::string& body = "",
                   const std::string& contentType = "") {
    return adminCall(proxy_->adminPort(), method, target, body, contentType);
  }
  static std::string bodyOf(const std::string& reply) { return reply.substr(reply.find("\r\n\r\n") + 4); }
};

TEST_F(RuntimeE2eTest, ModifyOverridesThePanicThresholdAndRuntimeShowsTheLayers) {
  Upstream down("down");
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "cluster_name: \"e\" endpoints { lb_endpoints { endpoint { address { socket_address { address: \"127.0.0.1\" "
      "port_value: " + std::to_string(down.port()) + " } } } health_status: UNHEALTHY } }",
      &cla));
  set({edsCluster("e")}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "e" } })")},
      {cla});
  // The static layer's threshold of 0: no panic, so the one unhealthy host takes nothing.
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 503; }).body, "no healthy upstream");

  EXPECT_NE(call("GET", "/runtime_modify?upstream.healthy_panic_threshold=50").find("405"), std::string::npos);
  std::string reply = call("POST", "/runtime_modify?upstream.healthy_panic_threshold=50");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_EQ(bodyOf(reply), "OK\n");
  // 50 from the admin layer: the cluster (0% healthy) is in panic and the host takes traffic.
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 200; }).body, "down / host=svc");

  auto runtime = nlohmann::json::parse(admin("/runtime"));
  EXPECT_EQ(runtime["layers"], (nlohmann::json{"static_layer_0", "admin_layer"}));
  EXPECT_EQ(runtime["entries"]["upstream.healthy_panic_threshold"],
            (nlohmann::json{{"final_value", "50"}, {"layer_values", {"0", "50"}}}));
  EXPECT_EQ(runtime["entries"]["re2.max_program_size.error_level"],
            (nlohmann::json{{"final_value", "1000"}, {"layer_values", {"1000", ""}}}));
  std::string stats = admin("/stats?filter=^runtime");
  for (const char* line : {"runtime.admin_overrides_active: 1\n", "runtime.num_keys: 2\n", "runtime.num_layers: 2\n",
                           "runtime.load_success: 2\n", "runtime.load_error: 0\n"}) {
    EXPECT_NE(stats.find(line), std::string::npos) << line << stats;
  }

  // Form values, when the query has none; an empty value removes the override.
  reply = call("POST", "/runtime_modify", "upstream.healthy_panic_threshold=&x.y=z", "application/x-www-form-urlencoded");
  EXPECT_EQ(bodyOf(reply), "OK\n");
  EXPECT_EQ(await("/", [](auto& r) { return r.status == 503; }).body, "no healthy upstream");
  runtime = nlohmann::json::parse(admin("/runtime"));
  EXPECT_EQ(runtime["entries"]["upstream.healthy_panic_threshold"]["final_value"], "0");
  EXPECT_EQ(runtime["entries"]["x.y"], (nlohmann::json{{"final_value", "z"}, {"layer_values", {"", "z"}}}));

  // No values at all: the usage, and nothing changes.
  reply = call("POST", "/runtime_modify");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_EQ(bodyOf(reply),
            "usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n"
            "       or send the parameters as form values\n"
            "use an empty value to remove a previously added override");
  EXPECT_EQ(nlohmann::json::parse(admin("/runtime")), runtime);
}

// The runtime's outlier_detection.* settings override the cluster's, read at each use. With
// enforcing_consecutive_5xx at 0, a host reaching consecutive_5xx is detected, not ejected; at 100
// the next run of failures ejects it, and it returns after the runtime's base_ejection_time_ms
// (checked at the runtime's interval_ms), not the cluster's minute.
TEST_F(RuntimeE2eTest, OutlierDetectionSettingsComeFromTheRuntime) {
  Upstream good("good"), bad("bad", 500);
  auto c = staticCluster("c", {good.port(), bad.port()});
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    consecutive_5xx { value: 2 } interval { seconds: 60 } base_ejection_time { seconds: 60 } max_ejection_percent { value: 50 })",
                                                          c.mutable_outlier_detection()));
  ASSERT_EQ(bodyOf(call("POST", "/runtime_modify?outlier_detection.enforcing_consecutive_5xx=0&outlier_detection.interval_ms=100")),
            "OK\n");
  set({c}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "c" } })")});
  await("/", [](auto& r) { return r.status == 200; });
  auto stat = [&](const std::string& name) {
    return admin("/stats").find("cluster.c.outlier_detection." + name + "\n") != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] {
    httpGet("127.0.0.1", port_, "/");
    return stat("ejections_detected_consecutive_5xx: 2");
  })) << admin("/stats?filter=outlier");
  EXPECT_TRUE(stat("ejections_enforced_total: 0"));
  std::string ejected = "c::127.0.0.1:" + std::to_string(bad.port()) + "::health_flags::/failed_outlier_check";
  EXPECT_EQ(admin("/clusters").find(ejected), std::string::npos);

  ASSERT_EQ(bodyOf(call("POST", "/runtime_modify?outlier_detection.enforcing_consecutive_5xx=100&"
                                "outlier_detection.base_ejection_time_ms=300")),
            "OK\n");
  ASSERT_TRUE(eventually([&] {
    httpGet("127.0.0.1", port_, "/");
    return admin("/clusters").find(ejected) != std::string::npos;
  })) << admin("/clusters");
  EXPECT_TRUE(stat("ejections_enforced_consecutive_5xx: 1"));
  EXPECT_TRUE(eventually([&] { return admin("/clusters").find(ejected) == std::string::npos; }, 5s)) << admin("/clusters");
}

// Without layered_runtime, Envoy has no layers, and nothing to modify.
TEST_F(ProxyE2eTest, WithoutALayeredRuntimeModifyHasNoAdminLayer) {
  auto runtime = nlohmann::json::parse(admin("/runtime"));
  EXPECT_EQ(runtime, (nlohmann::json{{"entries", nlohmann::json::object()}, {"layers", nlohmann::json::array()}}));
  std::string reply = adminCall(proxy_->adminPort(), "POST", "/runtime_modify?a=b");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nNo admin layer specified")) << reply;
  EXPECT_EQ(nlohmann::json::parse(admin("/runtime")), runtime);
}

// A disk layer is read again when its symlink is swapped, as Envoy watches its symlink_root.
class DiskRuntimeE2eTest : public ProxyE2eTest {
 protected:
  DiskRuntimeE2eTest() {
    std::filesystem::remove_all(root_);
    write("v1", "1");
    std::filesystem::create_directory_symlink(root_ / "v1", root_ / "current");
  }
  ~DiskRuntimeE2eTest() override { std::filesystem::remove_all(root_); }
  void editBootstrap(envoy::config::bootstrap::v3::Bootstrap& b) override {
    auto* disk = b.mutable_layered_runtime()->add_layers();
    disk->set_name("disk");
    disk->mutable_disk_layer()->set_symlink_root((root_ / "current").string());
    disk->mutable_disk_layer()->set_subdirectory("envoy");
  }
  // <version>/envoy/a/b holds `value`.
  void write(const std::string& version, const std::string& value) {
    std::filesystem::create_directories(root_ / version / "envoy" / "a");
    std::ofstream(root_ / version / "envoy" / "a" / "b") << value << "\n";
  }
  std::filesystem::path root_ = std::filesystem::temp_directory_path() / ("meshd-rt-" + std::to_string(::getpid()));
};

TEST_F(DiskRuntimeE2eTest, ASwappedSymlinkIsReadAgain) {
  auto value = [&] { return nlohmann::json::parse(admin("/runtime"))["entries"]["a.b"]["final_value"]; };
  EXPECT_EQ(value(), "1");
  write("v2", "2");
  std::filesystem::create_directory_symlink(root_ / "v2", root_ / "next");
  std::filesystem::rename(root_ / "next", root_ / "current");  // mv -T: a MovedTo onto the root
  EXPECT_TRUE(eventually([&] { return value() == "2"; }, 5s)) << admin("/runtime");
  EXPECT_NE(admin("/stats").find("runtime.load_success: 2\n"), std::string::npos) << admin("/stats?filter=runtime");
}

// An empty layered_runtime gets one admin layer with no name, as Envoy's.
class EmptyRuntimeE2eTest : public ProxyE2eTest {
 protected:
  void editBootstrap(envoy::config::bootstrap::v3::Bootstrap& b) override { b.mutable_layered_runtime(); }
};

TEST_F(EmptyRuntimeE2eTest, HasAnUnnamedAdminLayer) {
  EXPECT_TRUE(adminCall(proxy_->adminPort(), "POST", "/runtime_modify?a=b").ends_with("\r\n\r\nOK\n"));
  EXPECT_EQ(nlohmann::json::parse(admin("/runtime")),
            nlohmann::json::parse(R"({"entries": {"a": {"final_value": "b", "layer_values": ["b"]}}, "layers": [""]})"));
}

// A bootstrap whose runtime Envoy refuses does not start.
TEST(RuntimeBootstrap, ALayerWithoutANameStopsTheStart) {
  envoy::config::bootstrap::v3::Bootstrap b;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(layered_runtime { layers { admin_layer {} } })", &b));
  Proxy proxy(ProxyOptions{b, 1});
  EXPECT_EQ(proxy.start().message(), "layered_runtime: a layer has no name");
}

TEST(RuntimeBootstrap, ADiskLayerThatCannotBeWatchedStopsTheStart) {
  envoy::config::bootstrap::v3::Bootstrap b;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(layered_runtime { layers { name: "disk" disk_layer { symlink_root: "/nonexistent-meshd/current" } } })", &b));
  Proxy proxy(ProxyOptions{b, 1});
  EXPECT_EQ(proxy.start().message(), "runtime disk layer: cannot watch /nonexistent-meshd: No such file or directory");
}

TEST(RuntimeBootstrap, ARefusedRuntimeStopsTheStart) {
  envoy::config::bootstrap::v3::Bootstrap b;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    node { id: "proxy" cluster: "test" }
    layered_runtime { layers { name: "a" admin_layer {} } layers { name: "a" static_layer {} } })",
                                                            &b));
  Proxy proxy(ProxyOptions{b, 1});
  Status s = proxy.start();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "Duplicate layer name: a");
}

}  // namespace
}  // namespace meshd::proxy::testing
