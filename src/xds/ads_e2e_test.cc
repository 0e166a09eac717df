// End-to-end: the real meshd binary on loopback, the walkthrough's DNS mesh created over the App Mesh
// REST API, and Envoy's side of ADS played by a gRPC client. Checks what a proxy actually receives
// when the mesh's or one node's IP preference changes, who gets pushed, and what the status API
// reports (ACKed versions, NACKs).
//
// meshd is found in $MESHD_BIN, else in the build tree (MESHD_DEFAULT_BIN). It is always killed and
// its temporary directory removed, also when an assertion fails (the fixture's TearDown), and it
// dies with this process (PR_SET_PDEATHSIG) if the test is killed outright.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "xds/ads_test_client.h"
#include "xds/resource_types.h"

namespace meshd::xds {
namespace {

using namespace std::chrono_literals;
using envoy::config::cluster::v3::Cluster;
using envoy::config::listener::v3::Listener;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using nlohmann::json;
namespace fs = std::filesystem;
namespace http = boost::beast::http;

constexpr const char* kMesh = "appmesh-ipv6-dns";
constexpr const char* kGateway = "colorgateway-vg";
// The walkthrough's colors and their service numbers (red=1 ... purple=6).
const std::vector<std::string> kColors = {"red", "orange", "yellow", "green", "blue", "purple"};

std::string meshdBinary() {
  const char* env = std::getenv("MESHD_BIN");
  return env && *env ? env : MESHD_DEFAULT_BIN;
}

std::string egressCluster(const std::string& color) {
  return std::string("cds_egress_") + kMesh + "_colorteller-" + color + "-vn_http_9080";
}

// ---- meshd, the process --------------------------------------------------------------------------

class MeshdProcess {
 public:
  // Starts meshd on 127.0.0.1 port 0 (API, DNS, xDS) over a fresh temporary data dir and waits for
  // its ready file. On failure `error()` says why and nothing is left running.
  MeshdProcess() {
    char tmpl[] = "/tmp/meshd-e2e-XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    fs::create_directories(dir_ / "data");
    std::string bin = meshdBinary();
    if (access(bin.c_str(), X_OK) != 0) {
      error_ = "no meshd binary at " + bin + " (build it or set MESHD_BIN)";
      return;
    }
    std::vector<std::string> args = {bin,
                                     "--api-listen", "127.0.0.1:0",
                                     "--dns-listen", "127.0.0.1:0",
                                     "--xds-listen", "127.0.0.1:0",
                                     "--data-dir", (dir_ / "data").string(),
                                     "--ready-file", (dir_ / "ready.json").string(),
                                     "--log-level", "warn"};
    std::string log = (dir_ / "meshd.log").string();
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "meshd exited before it was ready:\n" + logTail();
        return;
      }
      std::ifstream in(dir_ / "ready.json");
      if (in) {
        json ready = json::parse(in, nullptr, false);
        if (!ready.is_discarded() && ready.contains("api") && ready.contains("xds")) {
          api_ = ready["api"].get<std::string>();
          xds_ = ready["xds"].get<std::string>();
          return;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    error_ = "no ready file within 10 s:\n" + logTail();
  }

  ~MeshdProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + 5s;
      int st = 0;
      bool gone = false;
      while (!(gone = waitpid(pid_, &st, WNOHANG) == pid_) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
      }
      if (!gone) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
      }
    }
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  const std::string& error() const { return error_; }
  const std::string& api() const { return api_; }
  const std::string& xds() const { return xds_; }

  std::string logTail() const {
    std::ifstream in(dir_ / "meshd.log");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return "--- meshd log ---\n" + (all.size() > 4000 ? all.substr(all.size() - 4000) : all);
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  std::string api_, xds_, error_;
};

// ---- HTTP: one request per connection -------------------------------------------------------------

struct HttpResult {
  int status = 0;
  json body;
  std::string raw;
};

HttpResult httpCall(const std::string& hostPort, http::verb method, const std::string& target,
                    const json& body = json()) {
  HttpResult out;
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    size_t colon = hostPort.rfind(':');
    auto endpoints = resolver.resolve(hostPort.substr(0, colon), hostPort.substr(colon + 1));
    boost::beast::tcp_stream stream(io);
    stream.expires_after(10s);
    stream.connect(endpoints);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, hostPort);
    if (!body.is_null()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body.dump();
    }
    req.prepare_payload();
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    out.status = res.result_int();
    out.raw = res.body();
    out.body = json::parse(out.raw, nullptr, false);
    boost::system::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    out.status = -1;
    out.raw = e.what();
  }
  return out;
}

// ---- the walkthrough's resources (DNS setup), as App Mesh JSON -------------------------------------

json nodeSpec(const std::string& color, const std::string& ipPreference = "") {
  json dns = {{"hostname", "colorteller-" + color + ".default.svc.cluster.local.dns"}};
  if (!ipPreference.empty()) dns["ipPreference"] = ipPreference;
  return {{"listeners",
           {{{"healthCheck",
              {{"healthyThreshold", 2},
               {"intervalMillis", 5000},
               {"path", "/ping"},
               {"protocol", "http"},
               {"timeoutMillis", 2000},
               {"unhealthyThreshold", 2}}},
             {"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}},
          {"serviceDiscovery", {{"dns", dns}}}};
}

std::string serviceName(size_t i) { return "colorteller-" + std::to_string(i + 1) + ".default.svc.cluster.local"; }

json meshSpec(const std::string& egress, const std::string& ipPreference) {
  return {{"egressFilter", {{"type", egress}}}, {"serviceDiscovery", {{"ipPreference", ipPreference}}}};
}

// ---- a proxy: one SotW stream playing Envoy ---------------------------------------------------------

class Proxy {
 public:
  Proxy(testdata::Stub& stub, std::string nodeId) : nodeId_(std::move(nodeId)), stream_(testdata::openSotw(stub)) {}

  // A first request for `type` (wildcard when `names` is empty); carries the node every time.
  void subscribe(std::string_view type, const std::vector<std::string>& names = {}) {
    DiscoveryRequest r;
    *r.mutable_node() = testdata::node(nodeId_);
    r.set_type_url(std::string(type));
    for (const auto& n : names) r.add_resource_names(n);
    names_[std::string(type)] = names;
    stream_->send(r);
  }

  // The next response; ACKs it unless `nack` is given (then NACKs it with that message).
  std::optional<DiscoveryResponse> next(std::chrono::milliseconds timeout = 5s, const std::string& nack = "") {
    auto r = stream_->next(timeout);
    if (!r) return r;
    DiscoveryRequest ack;
    ack.set_type_url(r->type_url());
    ack.set_response_nonce(r->nonce());
    for (const auto& n : names_[r->type_url()]) ack.add_resource_names(n);
    if (nack.empty()) {
      ack.set_version_info(r->version_info());
      acked_[r->type_url()] = r->version_info();
    } else {
      ack.set_version_info(acked_[r->type_url()]);
      ack.mutable_error_detail()->set_code(3);
      ack.mutable_error_detail()->set_message(nack);
    }
    stream_->send(ack);
    latest_[r->type_url()] = *r;
    return r;
  }

  // Reads (and ACKs) until a response of each of `types` has arrived; false on timeout.
  bool await(const std::set<std::string>& types, std::chrono::milliseconds timeout = 5s) {
    std::set<std::string> missing = types;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!missing.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      auto r = next(left);
      if (!r) return false;
      missing.erase(r->type_url());
    }
    return true;
  }

  // ACKs whatever comes until nothing has come for `quiet`.
  void settle(std::chrono::milliseconds quiet = 300ms) {
    while (next(quiet)) {
    }
  }

  // Envoy's start: clusters and listeners (wildcard), then the route configs the listeners name.
  ::testing::AssertionResult sync() {
    subscribe(kClusterType);
    subscribe(kListenerType);
    if (!await({std::string(kClusterType), std::string(kListenerType)})) {
      return ::testing::AssertionFailure() << nodeId_ << ": no initial CDS and LDS";
    }
    std::vector<std::string> routes;
    for (const Listener& l : listeners()) {
      for (const auto& chain : l.filter_chains()) {
        for (const auto& f : chain.filters()) {
          envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
          if (f.typed_config().UnpackTo(&hcm) && hcm.has_rds()) routes.push_back(hcm.rds().route_config_name());
        }
      }
    }
    if (!routes.empty()) {
      subscribe(kRouteType, routes);
      if (!await({std::string(kRouteType)})) return ::testing::AssertionFailure() << nodeId_ << ": no RDS";
    }
    return ::testing::AssertionSuccess();
  }

  std::map<std::string, Cluster> clusters() const {
    std::map<std::string, Cluster> out;
    auto it = latest_.find(std::string(kClusterType));
    if (it == latest_.end()) return out;
    for (const auto& any : it->second.resources()) {
      Cluster c;
      if (any.UnpackTo(&c)) out[c.name()] = c;
    }
    return out;
  }

  std::vector<Listener> listeners() const {
    std::vector<Listener> out;
    auto it = latest_.find(std::string(kListenerType));
    if (it == latest_.end()) return out;
    for (const auto& any : it->second.resources()) {
      Listener l;
      if (any.UnpackTo(&l)) out.push_back(l);
    }
    return out;
  }

  DiscoveryResponse latest(std::string_view type) { return latest_[std::string(type)]; }
  std::string acked(std::string_view type) { return acked_[std::string(type)]; }
  grpc::Status finish() { return stream_->finish(); }

 private:
  std::string nodeId_;
  std::unique_ptr<testdata::SotwStream> stream_;
  std::map<std::string, std::vector<std::string>> names_;
  std::map<std::string, std::string> acked_;
  std::map<std::string, DiscoveryResponse> latest_;
};

// ---- the test ------------------------------------------------------------------------------------

class AdsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    meshd_ = std::make_unique<MeshdProcess>();
    ASSERT_TRUE(meshd_->error().empty()) << meshd_->error();
    ASSERT_EQ(meshd_->api().rfind("127.0.0.1:", 0), 0u) << meshd_->api();
    ASSERT_EQ(meshd_->xds().rfind("127.0.0.1:", 0), 0u) << meshd_->xds();
    stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(
        grpc::CreateChannel(meshd_->xds(), grpc::InsecureChannelCredentials()));
  }

  // Streams go first (they must not outlive the stub), then meshd and its directory.
  void TearDown() override {
    proxies_.clear();
    stub_.reset();
    meshd_.reset();
  }

  Proxy& connect(const std::string& nodeId) {
    proxies_.push_back(std::make_unique<Proxy>(*stub_, nodeId));
    return *proxies_.back();
  }

  // Connects as `nodeId` and completes Envoy's initial sync, then ACKs until quiet. meshd resolves
  // a node against the state its translation loop last loaded (publisher.cc), which may lag a write
  // just made by ~20-50 ms: a stream opened in that window ends with NOT_FOUND (Envoy would retry,
  // and so does this), or starts from the older state and gets the newer one pushed at once (hence
  // the settle).
  Proxy* connectSynced(const std::string& nodeId) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (true) {
      Proxy& p = connect(nodeId);
      ::testing::AssertionResult synced = p.sync();
      if (synced) {
        p.settle();
        return &p;
      }
      grpc::Status end = p.finish();
      if (end.error_code() != grpc::StatusCode::NOT_FOUND || std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << synced.message() << "; stream ended with " << end.error_code() << " "
                      << end.error_message();
        return nullptr;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  // A write the API must accept.
  ::testing::AssertionResult put(const std::string& target, const json& body) {
    HttpResult r = httpCall(meshd_->api(), http::verb::put, target, body);
    if (r.status == 200) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "PUT " << target << " -> " << r.status << " " << r.raw << "\n"
                                         << meshd_->logTail();
  }

  std::string meshPath() const { return std::string("/v20190125/meshes/") + kMesh; }

  // The status API's entry for the proxy with node id `nodeId` (null when not listed).
  json proxyStatus(const std::string& nodeId) {
    HttpResult r = httpCall(meshd_->api(), http::verb::get, "/meshd/v1/proxies");
    if (r.status != 200 || !r.body.contains("proxies")) return json();
    for (const json& p : r.body["proxies"]) {
      if (p.value("nodeId", "") == nodeId) return p;
    }
    return json();
  }

  // Polls the status API until `condition(entry)` holds (the server reports asynchronously).
  template <typename Condition>
  json eventuallyStatus(const std::string& nodeId, Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    json p;
    while (std::chrono::steady_clock::now() < deadline) {
      p = proxyStatus(nodeId);
      if (!p.is_null() && condition(p)) return p;
      std::this_thread::sleep_for(20ms);
    }
    return p;
  }

  void createWalkthroughMesh() {
    ASSERT_TRUE(put("/v20190125/meshes", {{"meshName", kMesh}, {"spec", meshSpec("ALLOW_ALL", "IPv4_ONLY")}}));
    for (size_t i = 0; i < kColors.size(); ++i) {
      const std::string& color = kColors[i];
      // As the walkthrough starts: the nodes have no preference of their own; the mesh's applies.
      ASSERT_TRUE(put(meshPath() + "/virtualNodes",
                      {{"virtualNodeName", "colorteller-" + color + "-vn"}, {"spec", nodeSpec(color)}}));
      ASSERT_TRUE(put(meshPath() + "/virtualServices",
                      {{"virtualServiceName", serviceName(i)},
                       {"spec", {{"provider", {{"virtualNode", {{"virtualNodeName", "colorteller-" + color + "-vn"}}}}}}}}));
    }
    ASSERT_TRUE(put(meshPath() + "/virtualGateways",
                    {{"virtualGatewayName", kGateway},
                     {"spec", {{"listeners", {{{"portMapping", {{"port", 9080}, {"protocol", "http"}}}}}}}}}));
    for (size_t i = 0; i < kColors.size(); ++i) {
      const std::string& color = kColors[i];
      json route = {{"httpRoute",
                     {{"match", {{"prefix", "/" + color}}},
                      {"action", {{"target", {{"virtualService", {{"virtualServiceName", serviceName(i)}}}}}}}}}};
      ASSERT_TRUE(put(meshPath() + "/virtualGateway/" + kGateway + "/gatewayRoutes",
                      {{"gatewayRouteName", "colorgateway-route-" + color}, {"spec", route}}));
    }
    // Not in the walkthrough: a client whose only backend is orange, to see who a change to red reaches.
    json client = nodeSpec("client");
    client["backends"] = {{{"virtualService", {{"virtualServiceName", serviceName(1)}}}}};
    ASSERT_TRUE(put(meshPath() + "/virtualNodes", {{"virtualNodeName", "colorclient-vn"}, {"spec", client}}));
  }

  std::unique_ptr<MeshdProcess> meshd_;
  std::unique_ptr<testdata::Stub> stub_;
  std::vector<std::unique_ptr<Proxy>> proxies_;
};

TEST_F(AdsEndToEnd, WalkthroughMeshOverRealMeshd) {
  ASSERT_NO_FATAL_FAILURE(createWalkthroughMesh());
  const std::string gatewayId = std::string("mesh/") + kMesh + "/virtualGateway/" + kGateway;

  // 1. Initial sync of the gateway under an IPv4_ONLY mesh.
  Proxy* gatewayStream = connectSynced(gatewayId);
  ASSERT_NE(gatewayStream, nullptr);
  Proxy& gateway = *gatewayStream;
  auto clusters = gateway.clusters();
  ASSERT_EQ(clusters.size(), kColors.size());
  for (const auto& color : kColors) {
    ASSERT_TRUE(clusters.count(egressCluster(color))) << egressCluster(color);
    const Cluster& c = clusters[egressCluster(color)];
    EXPECT_EQ(c.type(), Cluster::LOGICAL_DNS) << c.name();
    EXPECT_EQ(c.dns_lookup_family(), Cluster::V4_ONLY) << c.name();
  }
  auto listeners = gateway.listeners();
  ASSERT_EQ(listeners.size(), 1u);
  EXPECT_EQ(listeners[0].name(), "lds_ingress_::_9080");
  EXPECT_EQ(listeners[0].address().socket_address().address(), "::");
  EXPECT_EQ(listeners[0].address().socket_address().port_value(), 9080u);
  EXPECT_TRUE(listeners[0].address().socket_address().ipv4_compat());

  // 2. The status API lists the gateway with what it ACKed.
  json status = eventuallyStatus(gatewayId, [&](const json& p) {
    return p["acked"].value(std::string(kClusterType), "") == gateway.acked(kClusterType) &&
           p["acked"].value(std::string(kListenerType), "") == gateway.acked(kListenerType) &&
           p["acked"].value(std::string(kRouteType), "") == gateway.acked(kRouteType);
  });
  ASSERT_FALSE(status.is_null()) << "the gateway is not listed by /meshd/v1/proxies";
  EXPECT_EQ(status.value("key", ""), gatewayId);
  EXPECT_FALSE(gateway.acked(kClusterType).empty());
  EXPECT_EQ(status["acked"].value(std::string(kClusterType), ""), gateway.acked(kClusterType)) << status.dump();
  EXPECT_EQ(status["acked"].value(std::string(kListenerType), ""), gateway.acked(kListenerType)) << status.dump();
  EXPECT_FALSE(status.contains("lastNack")) << status.dump();

  // 3. The mesh goes IPv6_ONLY: the gateway's clusters are pushed with V6_ONLY.
  ASSERT_TRUE(put(meshPath(), {{"spec", meshSpec("ALLOW_ALL", "IPv6_ONLY")}}));
  ASSERT_TRUE(gateway.await({std::string(kClusterType)}));
  clusters = gateway.clusters();
  ASSERT_EQ(clusters.size(), kColors.size()) << gateway.latest(kClusterType).DebugString();
  for (const auto& [name, c] : clusters) EXPECT_EQ(c.dns_lookup_family(), Cluster::V6_ONLY) << name;
  gateway.settle();

  // 4. One node's preference reaches its dependents only. Under ALLOW_ALL every node reaches every
  // service, so the mesh first drops undeclared egress: colorclient-vn then depends on orange only.
  ASSERT_TRUE(put(meshPath(), {{"spec", meshSpec("DROP_ALL", "IPv6_ONLY")}}));
  Proxy* clientStream = connectSynced(std::string("mesh/") + kMesh + "/virtualNode/colorclient-vn");
  ASSERT_NE(clientStream, nullptr);
  Proxy& client = *clientStream;
  gateway.settle();  // the gateway's resources do not depend on the egress filter
  auto clientClusters = client.clusters();
  EXPECT_TRUE(clientClusters.count(egressCluster("orange")));
  EXPECT_FALSE(clientClusters.count(egressCluster("red")));

  ASSERT_TRUE(put(meshPath() + "/virtualNodes/colorteller-red-vn", {{"spec", nodeSpec("red", "IPv4_PREFERRED")}}));
  // The gateway routes /red to red: its clusters are pushed. It rejects them (a NACK), which the
  // status API must report.
  auto push = gateway.next(5s, "test NACK: cluster rejected");
  ASSERT_TRUE(push.has_value()) << "no push to the gateway after red-vn changed";
  ASSERT_EQ(push->type_url(), kClusterType);
  std::map<std::string, Cluster> pushed;
  for (const auto& any : push->resources()) {
    Cluster c;
    ASSERT_TRUE(any.UnpackTo(&c));
    pushed[c.name()] = c;
  }
  ASSERT_TRUE(pushed.count(egressCluster("red")));
  EXPECT_EQ(pushed[egressCluster("red")].dns_lookup_family(), Cluster::V4_PREFERRED);
  EXPECT_EQ(pushed[egressCluster("orange")].dns_lookup_family(), Cluster::V6_ONLY);
  // colorclient-vn does not reach red: nothing for it.
  EXPECT_FALSE(client.next(500ms).has_value()) << "colorclient-vn was pushed a change to red-vn";

  status = eventuallyStatus(gatewayId, [](const json& p) { return p.contains("lastNack"); });
  ASSERT_TRUE(status.contains("lastNack")) << status.dump();
  EXPECT_EQ(status["lastNack"].value("type", ""), kClusterType);
  EXPECT_EQ(status["lastNack"].value("reason", ""), "test NACK: cluster rejected");
  // A NACK keeps the last good version as the ACKed one.
  EXPECT_EQ(status["acked"].value(std::string(kClusterType), ""), gateway.acked(kClusterType)) << status.dump();

  // 5. An unknown node gets NOT_FOUND and nothing else.
  Proxy& unknown = connect(std::string("mesh/") + kMesh + "/virtualNode/no-such-vn");
  unknown.subscribe(kClusterType);
  grpc::Status end = unknown.finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::NOT_FOUND) << end.error_message();
}

}  // namespace
}  // namespace meshd::xds
