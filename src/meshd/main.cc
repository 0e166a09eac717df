// meshd: the control plane. Wires the store, the APIs (App Mesh, Cloud Map, meshd's own) on one HTTP
// listener, the DNS server and the Envoy xDS server together.

#include <CLI/CLI.hpp>
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "api/appmesh_service.h"
#include "api/http_server.h"
#include "api/json_rpc.h"
#include "api/rest_json.h"
#include "discovery/cloudmap_service.h"
#include "discovery/dns_publisher.h"
#include "discovery/static_records.h"
#include "common/log.h"
#include "store/store.h"
#include "xds/ads_server.h"
#include "xds/publisher.h"
#include "xds/status_api.h"

namespace {

struct Flags {
  std::string apiListen = "127.0.0.1:8080";
  std::string dnsListen = "127.0.0.1:5353";
  std::string xdsListen = "127.0.0.1:18000";
  std::string dataDir = "meshd-data";
  std::string region = "us-west-2";
  std::string account = "123456789012";
  std::string readyFile;
  std::string logLevel = "info";
  std::vector<std::string> quotas;
  int apiThreads = 2;
};

// Writes `content` to `path` so that readers never see a partial file.
bool writeAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << content)) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

std::string hostPortText(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int fail(const std::string& message) {
  std::cerr << "meshd: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"meshd: an App Mesh-compatible control plane"};
  app.add_option("--api-listen", f.apiListen, "host:port of the App Mesh API (port 0 picks one)")
      ->capture_default_str();
  app.add_option("--dns-listen", f.dnsListen, "host:port of the DNS server, UDP and TCP (port 0 picks one)")
      ->capture_default_str();
  app.add_option("--xds-listen", f.xdsListen, "host:port of the Envoy ADS server (gRPC; port 0 picks one)")
      ->capture_default_str();
  app.add_option("--data-dir", f.dataDir, "directory of the embedded store")->capture_default_str();
  app.add_option("--region", f.region, "region in ARNs")->capture_default_str();
  app.add_option("--account-id", f.account, "account id in ARNs and owners")->capture_default_str();
  app.add_option("--ready-file", f.readyFile, "write {\"api\": \"host:port\"} here once serving");
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--quota", f.quotas, "override a quota, e.g. meshes=30 (repeatable)");
  app.add_option("--api-threads", f.apiThreads, "HTTP worker threads")->capture_default_str()->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  meshd::log::init(f.logLevel);
  meshd::api::AppMeshConfig config;
  config.region = f.region;
  config.account = f.account;
  for (const auto& q : f.quotas) {
    if (auto st = config.quotas.set(q); !st.ok()) return fail(st.message());
  }
  auto hostPort = meshd::api::parseHostPort(f.apiListen);
  if (!hostPort.ok()) return fail("--api-listen: " + hostPort.status().message());
  auto dnsHostPort = meshd::api::parseHostPort(f.dnsListen);
  if (!dnsHostPort.ok()) return fail("--dns-listen: " + dnsHostPort.status().message());

  // Debian's abseil is built without NDEBUG, so every absl::Mutex (gRPC takes several per
  // connection) tracks lock order in one global graph: with 10,000 proxies connected that check was
  // about a tenth of meshd's CPU on a mesh-wide change (bench/xds_scale). It only finds bugs in gRPC.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  auto store = meshd::store::openSqliteStore(f.dataDir);
  if (!store.ok()) return fail(store.status().message());
  meshd::api::AppMeshService appMesh(**store, config);
  meshd::api::RestJsonAdapter appMeshApi(meshd::model::ServiceModel::appMesh(), appMesh);
  meshd::discovery::CloudMapService cloudMap(**store, {f.region, f.account, nullptr});
  meshd::api::JsonRpcAdapter cloudMapApi(meshd::model::ServiceModel::cloudMap(), cloudMap);
  // One listener serves every API: Cloud Map requests name their operation in X-Amz-Target, App Mesh
  // and meshd's own requests in the path.
  meshd::discovery::StaticRecordsApi staticRecordsApi(**store);
  meshd::xds::SnapshotCache cache;
  meshd::xds::XdsPublisher publisher(**store, cache);
  meshd::xds::StatusApi statusApi(publisher, cache);
  meshd::api::HttpServer server([&](const meshd::api::HttpRequest& r) {
    if (cloudMapApi.accepts(r)) return cloudMapApi.handle(r);
    if (staticRecordsApi.accepts(r)) return staticRecordsApi.handle(r);
    if (statusApi.accepts(r)) return statusApi.handle(r);
    return appMeshApi.handle(r);
  });
  auto endpoint = server.listen(hostPort->first, hostPort->second);
  if (!endpoint.ok()) return fail(endpoint.status().message());
  std::string bound = hostPortText(endpoint->address().to_string(), endpoint->port());

  meshd::dns::DnsServer dns;
  auto dnsPorts = dns.listen(dnsHostPort->first, dnsHostPort->second);
  if (!dnsPorts.ok()) return fail("dns: " + dnsPorts.status().message());
  std::string dnsBound = hostPortText(dnsHostPort->first, dnsPorts->udp);
  meshd::discovery::DnsPublisher dnsPublisher(**store, dns);
  if (auto st = dnsPublisher.start(); !st.ok()) return fail("dns: " + st.message());
  dns.start(1);

  if (auto st = publisher.start(); !st.ok()) return fail("xds: " + st.message());
  meshd::xds::AdsServer ads(cache, [&](const envoy::config::core::v3::Node& n) { return publisher.resolve(n); });
  auto xdsPort = ads.listen(f.xdsListen);
  if (!xdsPort.ok()) return fail("xds: " + xdsPort.status().message());
  std::string xdsHost = f.xdsListen.substr(0, f.xdsListen.rfind(':'));
  if (xdsHost.size() > 2 && xdsHost.front() == '[') xdsHost = xdsHost.substr(1, xdsHost.size() - 2);
  std::string xdsBound = hostPortText(xdsHost, static_cast<uint16_t>(*xdsPort));
  server.start(f.apiThreads);
  spdlog::info("msg=\"serving\" api={} dns={} xds={} data_dir={} revision={}", bound, dnsBound, xdsBound,
               f.dataDir, (*store)->revision());
  std::string ready = "{\"api\": \"" + bound + "\", \"dns\": \"" + dnsBound + "\", \"xds\": \"" + xdsBound + "\"}\n";
  if (!f.readyFile.empty() && !writeAtomically(f.readyFile, ready)) return fail("cannot write " + f.readyFile);

  int sig = 0;
  sigwait(&stopSignals, &sig);
  spdlog::info("msg=\"stopping\" signal={}", sig);
  ads.stop();
  publisher.stop();
  server.stop();
  dnsPublisher.stop();
  dns.stop();
  return 0;
}
