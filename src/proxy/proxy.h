#pragma once
// The meshproxy process: the main thread (configuration: xDS client, DNS, health checks, admin) and
// N workers (listeners and connections). Configuration reaches workers as immutable snapshots.
// Thread-safety: construct, start and run on the main thread; requestStop from any thread
// (or a signal handler via the io_context's signal_set).

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "common/status.h"
#include "proxy/event_loop.h"

namespace meshd::proxy {

struct ProxyOptions {
  envoy::config::bootstrap::v3::Bootstrap bootstrap;
  size_t concurrency = 2;
  Coalescing coalescing;  // of the workers' event loops (event_loop.h)
  // Envoy's --drain-time-s: how long POST /drain_listeners?graceful drains before listeners stop.
  std::chrono::seconds drainTime{600};
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);
  ~Proxy();

  // Binds the admin address and starts the workers and the xDS client.
  Status start();
  // Runs the main loop until requestStop.
  void run();
  void requestStop();
  int adminPort() const { return adminPort_; }
  boost::asio::io_context& context() { return main_; }

 private:
  struct Parts;
  // Envoy's stats flush: the stats sinks get every stat, every stats_flush_interval.
  Status startStatsSinks();
  void flushStatsLater();
  void expireFetchesLater();
  ProxyOptions options_;
  boost::asio::io_context main_{1};
  std::unique_ptr<Parts> parts_;
  int adminPort_ = 0;
};

}  // namespace meshd::proxy
