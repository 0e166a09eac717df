#include "proxy/proxy.h"

#include <google/protobuf/util/json_util.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/admin.h"
#include "proxy/bootstrap_loader.h"
#include "proxy/config_manager.h"
#include "proxy/dns_refresher.h"
#include "proxy/file_watcher.h"
#include "proxy/health_checker.h"
#include "proxy/loggers.h"
#include "xds/bootstrap.h"
#include "proxy/outlier_detector.h"
#include "proxy/statsd_sink.h"
#include "proxy/worker.h"
#include "proxy/xds_client.h"

namespace meshd::proxy {

struct Proxy::Parts {
  StatsRegistry stats;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<FileWatcher> runtimeWatcher;  // the disk layers' symlink swaps
  std::unique_ptr<ConfigManager> config;
  std::unique_ptr<DnsRefresher> dns;
  std::unique_ptr<HealthChecker> health;
  std::unique_ptr<OutlierDetector> outliers;
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<XdsClient> xds;
  std::unique_ptr<boost::asio::steady_timer> drainTimer;  // a graceful /drain_listeners' end
  std::unique_ptr<boost::asio::steady_timer> fetchTimer;  // initial_fetch_timeout checks, each second
  std::unique_ptr<boost::asio::steady_timer> quitTimer;   // /quitquitquit's stop, once its reply is out
  AdminContext view;  // what the admin sees: what the sinks get too
  std::vector<std::unique_ptr<DogStatsdSink>> sinks;
  std::unique_ptr<boost::asio::steady_timer> flushTimer;
  std::chrono::milliseconds flushInterval{5000};  // Envoy's default
};

Proxy::Proxy(ProxyOptions options) : options_(std::move(options)), parts_(std::make_unique<Parts>()) {}

Proxy::~Proxy() {
  if (parts_->xds) parts_->xds->stop();
  if (parts_->dns) parts_->dns->stop();
  for (auto& w : parts_->workers) w->stop();
}

Status Proxy::start() {
  registerExtensionTypes();
  Parts& p = *parts_;
  // As Envoy's: no layered_runtime, no layers; one with no layers, an admin layer with no name.
  envoy::config::bootstrap::v3::LayeredRuntime layered = options_.bootstrap.layered_runtime();
  for (const auto& l : layered.layers()) {
    if (l.name().empty()) return badRequest("layered_runtime: a layer has no name");
  }
  if (options_.bootstrap.has_layered_runtime() && layered.layers().empty()) layered.add_layers()->mutable_admin_layer();
  auto runtime = Runtime::make(layered, options_.bootstrap.node().cluster(), p.stats.runtime);
  if (!runtime.ok()) return runtime.status();
  p.runtime = std::move(*runtime);
  p.runtimeWatcher = std::make_unique<FileWatcher>(main_);
  for (const std::string& root : p.runtime->diskRoots()) {
    Status s = p.runtimeWatcher->onMovedTo(root, [this] { parts_->runtime->reload(); });
    if (!s.ok()) return badRequest("runtime disk layer: " + s.message());
  }
  auto target = adsTarget(options_.bootstrap);
  if (!target.ok()) return target.status();
  auto onOutlier = [this](const std::string& cluster, const std::string& host, uint32_t event) {
    boost::asio::post(main_, [this, cluster, host, event] {
      for (OutlierEvent e : {kConsecutiveGatewayFailure, kConsecutive5xx}) {  // Envoy's order
        if (event & e) parts_->outliers->onConsecutive(cluster, host, e);
      }
    });
  };
  for (size_t i = 0; i < options_.concurrency; ++i) p.workers.push_back(std::make_unique<Worker>(i, onOutlier, options_.coalescing));
  auto publish = [this](ConfigPtr c) {
    Parts& p = *parts_;
    for (auto& w : p.workers) w->setConfig(c);
    if (!p.config) return;  // the first publication happens while the manager is being built
    std::vector<std::string> dnsClusters;
    for (const auto& c : p.config->clusterProtos()) {
      if (c->type() == envoy::config::cluster::v3::Cluster::STRICT_DNS ||
          c->type() == envoy::config::cluster::v3::Cluster::LOGICAL_DNS) {
        dnsClusters.push_back(c->name());
      }
    }
    p.dns->retain(dnsClusters);
    p.health->reconcile(p.config->healthCheckTargets());
    if (p.outliers) p.outliers->reconcile(p.config->clusterProtos());
  };
  p.dns = std::make_unique<DnsRefresher>(main_, dnsResolvers(options_.bootstrap), [this](const std::string& cluster, const LookupResult& r) {
    parts_->config->onDnsResolved(cluster, r.failed, r.addresses);
  });
  p.health = std::make_unique<HealthChecker>(
      main_, [this](const std::string& cluster, const std::string& host, bool failed) {
        parts_->config->setHostFailedActiveHc(cluster, host, failed);
      },
      [this](const std::string& cluster, const std::string& host) {
        if (parts_->outliers) parts_->outliers->onHealthCheckPassed(cluster, host);
      });
  p.config = std::make_unique<ConfigManager>(options_.concurrency, p.stats, publish,
                                             [this](const envoy::config::cluster::v3::Cluster& c) { parts_->dns->start(c); });

  p.config->setRuntime(p.runtime->snapshot());
  p.runtime->onChange([this](RuntimeSnapshotPtr s) { parts_->config->setRuntime(std::move(s)); });

  const auto& dynamic = options_.bootstrap.dynamic_resources();
  p.config->setInitialFetchTimeouts(initialFetchTimeout(dynamic.cds_config()), initialFetchTimeout(dynamic.lds_config()));
  p.fetchTimer = std::make_unique<boost::asio::steady_timer>(main_);
  expireFetchesLater();
  p.outliers = std::make_unique<OutlierDetector>(main_, *p.config);
  p.outliers->reconcile(p.config->clusterProtos());

  AdminContext ctx;
  ctx.config = p.config.get();
  ctx.stats = &p.stats;
  ctx.runtime = p.runtime.get();
  ctx.concurrency = options_.concurrency;
  ctx.bootstrap = std::make_shared<envoy::config::bootstrap::v3::Bootstrap>(options_.bootstrap);
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(options_.bootstrap.node(), &ctx.nodeJson, o);
  // As Envoy's /drain_listeners: stop the listeners now, or drain their connections for the drain
  // time first (a second graceful drain does not restart the clock).
  ctx.drainListeners = [this](bool inboundOnly, bool graceful) {
    Parts& p = *parts_;
    if (!graceful) return p.config->stopListeners(inboundOnly);
    p.config->drainListeners(inboundOnly);
    if (p.drainTimer) return;
    p.drainTimer = std::make_unique<boost::asio::steady_timer>(main_, options_.drainTime);
    p.drainTimer->async_wait([this, inboundOnly](boost::system::error_code ec) {
      if (!ec) parts_->config->stopListeners(inboundOnly);
    });
  };
  ctx.quit = [this] {
    Parts& p = *parts_;
    if (p.quitTimer) return;
    logger(Log::kMain).info("msg=\"stopping: /quitquitquit\"");
    p.quitTimer = std::make_unique<boost::asio::steady_timer>(main_, std::chrono::milliseconds(100));
    p.quitTimer->async_wait([this](boost::system::error_code ec) {
      if (!ec) requestStop();
    });
  };
  auto tags = TagProducer::make(options_.bootstrap.stats_config());
  if (!tags.ok()) return tags.status();
  ctx.tags = *tags;
  p.view = ctx;
  if (Status s = startStatsSinks(); !s.ok()) return s;
  p.admin = std::make_unique<AdminServer>(main_, ctx);
  if (options_.bootstrap.has_admin()) {
    const auto& sa = options_.bootstrap.admin().address().socket_address();
    auto port = p.admin->listen(sa.address(), sa.port_value());
    if (!port.ok()) return port.status();
    adminPort_ = *port;
    // The port actually bound (the bootstrap may say 0), for meshd's diagnose.
    (*options_.bootstrap.mutable_node()->mutable_metadata()->mutable_fields())[xds::kAdminPortKey].set_number_value(adminPort_);
  }
  for (auto& w : p.workers) w->start();
  p.xds = std::make_unique<XdsClient>(options_.bootstrap, *target, main_, *p.config, &p.stats.xds);
  p.xds->start();
  logger(Log::kMain).info("msg=\"meshproxy started\" node={} xds={} admin_port={} workers={}", options_.bootstrap.node().id(), *target,
               adminPort_, options_.concurrency);
  return okStatus();
}

Status Proxy::startStatsSinks() {
  Parts& p = *parts_;
  const auto& b = options_.bootstrap;
  for (const auto& sink : b.stats_sinks()) {
    envoy::config::metrics::v3::DogStatsdSink dog;
    if (!sink.typed_config().UnpackTo(&dog)) {
      return badRequest("stats sink '" + sink.name() + "' (" + sink.typed_config().type_url() +
                        ") is not supported: meshproxy has envoy.stat_sinks.dog_statsd");
    }
    auto made = DogStatsdSink::make(dog, p.view.tags);
    if (!made.ok()) return made.status();
    p.sinks.push_back(std::move(*made));
  }
  if (b.has_stats_flush_interval()) {
    p.flushInterval = std::chrono::milliseconds(b.stats_flush_interval().seconds() * 1000 + b.stats_flush_interval().nanos() / 1000000);
    if (p.flushInterval < std::chrono::milliseconds(1) || p.flushInterval > std::chrono::seconds(300)) {
      return badRequest("stats_flush_interval must be within 1ms..300s");  // as Envoy's validation
    }
  }
  if (p.sinks.empty()) return okStatus();
  p.flushTimer = std::make_unique<boost::asio::steady_timer>(main_);
  flushStatsLater();
  return okStatus();
}

void Proxy::flushStatsLater() {
  Parts& p = *parts_;
  p.flushTimer->expires_after(p.flushInterval);
  p.flushTimer->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Parts& p = *parts_;
    StatValues all = allStats(p.view, /*sinceReset=*/false);
    auto histograms = DogStatsdSink::take(p.stats.histograms());
    for (auto& sink : p.sinks) sink->flush(all, histograms);
    flushStatsLater();
  });
}

void Proxy::expireFetchesLater() {
  parts_->fetchTimer->expires_after(std::chrono::seconds(1));
  parts_->fetchTimer->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    parts_->config->expireInitialFetches(std::chrono::steady_clock::now());
    expireFetchesLater();
  });
}

void Proxy::run() {
  auto guard = boost::asio::make_work_guard(main_);
  main_.run();
}

void Proxy::requestStop() {
  boost::asio::post(main_, [this] {
    // The xDS client notices within 100 ms even while waiting for this loop to apply a response.
    parts_->xds->stop();
    parts_->dns->stop();
    parts_->admin->stop();
    parts_->health->stop();
    parts_->outliers->stop();
    if (parts_->flushTimer) parts_->flushTimer->cancel();
    if (parts_->fetchTimer) parts_->fetchTimer->cancel();
    if (parts_->quitTimer) parts_->quitTimer->cancel();
    main_.stop();
  });
}

}  // namespace meshd::proxy
