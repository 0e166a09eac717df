#pragma once
// Envoy's admin endpoints on the bootstrap's admin address: /ready, /server_info, /config_dump,
// /clusters, /listeners, /stats, /stats/prometheus, /memory, /runtime, and (POST) /drain_listeners,
// /healthcheck/fail, /healthcheck/ok, /logging, /reset_counters, /runtime_modify and /quitquitquit. Served on the
// main thread's io_context, so it reads the ConfigManager and StatsRegistry without locks. Main
// thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proxy/config_manager.h"
#include "proxy/runtime.h"
#include "proxy/stat_tags.h"
#include "proxy/stats.h"

namespace envoy::config::bootstrap::v3 {
class Bootstrap;
}

namespace meshd::proxy {

struct AdminContext {
  const ConfigManager* config = nullptr;
  StatsRegistry* stats = nullptr;  // and POST /reset_counters resets its counters
  std::string nodeJson;  // the bootstrap's node as JSON
  size_t concurrency = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point startedAt = std::chrono::system_clock::now();
  std::shared_ptr<const envoy::config::bootstrap::v3::Bootstrap> bootstrap;  // for /config_dump
  Runtime* runtime = nullptr;  // /runtime, and POST /runtime_modify changes its admin layer
  // What the POST endpoints change: /drain_listeners ([inboundonly], [graceful]) and
  // /healthcheck/fail and /healthcheck/ok (the server then says DRAINING, as Envoy's).
  std::function<void(bool inboundOnly, bool graceful)> drainListeners;
  std::shared_ptr<bool> healthCheckFailed = std::make_shared<bool>(false);
  // POST /quitquitquit: the server stops (after this response has gone out), as Envoy's.
  std::function<void()> quit;
  // How stats are named and tagged (the bootstrap's stats_config): Prometheus labels.
  std::shared_ptr<const TagProducer> tags = std::make_shared<TagProducer>();
};

// Every stat: the registry's, and the server's and its configuration's gauges, sorted by name.
// Counters count from the last POST /reset_counters, or with `sinceReset` false from the start (what
// a sink takes its deltas from: increments made after a reset still reach it, as Envoy's latched
// counters).
StatValues allStats(const AdminContext& ctx, bool sinceReset = true);


// The response to an admin GET: status, content type, body.
struct AdminResponse {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=UTF-8";
  std::string body;
};

// One admin request: `method` as sent (GET, POST, ...), `target` its path and query, and its body
// with its content type (/runtime_modify takes form values).
AdminResponse adminHandle(const AdminContext& ctx, std::string_view method, const std::string& target,
                          std::string_view body = {}, std::string_view contentType = {});

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& main, AdminContext ctx);
  // Binds (port 0 picks one) and starts serving; the bound port, or why not.
  StatusOr<int> listen(const std::string& address, uint32_t port);
  void stop();

 private:
  boost::asio::io_context& main_;
  AdminContext ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace meshd::proxy
