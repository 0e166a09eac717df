#pragma once
// A worker: one thread, one io_context, one acceptor per listener (its own SO_REUSEPORT socket),
// and the connections it accepted. It serves each request with the Config snapshot current when
// the request starts; a new snapshot arrives by setConfig (posted to the worker's own loop), so
// requests never take a lock.
// Thread-safety: setConfig, start and stop from any thread; the rest runs on the worker thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "proxy/config.h"
#include "proxy/event_loop.h"
#include "proxy/io.h"
#include "proxy/listener_drain.h"
#include "proxy/h2/upstream_pool.h"
#include "proxy/upstream_pool.h"

namespace meshd::proxy {

class Worker {
 public:
  // Called on the worker thread when a host reaches its cluster's consecutive_5xx (it should post
  // to the main thread).
  // `event`: the OutlierEvent bits an attempt made the host reach.
  using OnOutlier = std::function<void(const std::string& cluster, const std::string& hostKey, uint32_t event)>;

  Worker(size_t index, OnOutlier onOutlier = {}, Coalescing coalescing = {});
  ~Worker();

  void start();
  void stop();
  void setConfig(ConfigPtr config);

  // Worker thread only.
  const ConfigPtr& config() const { return config_; }
  size_t& roundRobin(const std::string& cluster) { return roundRobin_[cluster]; }
  uint64_t random();
  UpstreamPool& pool() { return pool_; }
  h2::UpstreamPool& h2Pool() { return h2Pool_; }
  void reportOutlier(const std::string& cluster, const std::string& hostKey, uint32_t event) {
    if (onOutlier_) onOutlier_(cluster, hostKey, event);
  }
  boost::asio::io_context& context() { return io_; }

 private:
  struct Accepting {
    const BoundSockets* sockets = nullptr;
    std::shared_ptr<proxy::Acceptor> acceptor;
    std::shared_ptr<ListenerDrain> drain;
  };
  void apply(ConfigPtr config);
  void accept(const std::string& listener, std::shared_ptr<proxy::Acceptor> a,
              std::shared_ptr<ListenerDrain> drain);
  void onConnection(const std::string& listener, Socket s, std::shared_ptr<ListenerDrain> drain);

  size_t index_;
  OnOutlier onOutlier_;
  Coalescing coalescing_;
  // One thread runs this loop and only it touches the worker's sockets (other threads only post),
  // so per-socket I/O locking is wasted work on the request path.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::thread thread_;
  ConfigPtr config_ = std::make_shared<Config>();
  std::map<std::string, Accepting> acceptors_;
  std::unordered_map<std::string, size_t> roundRobin_;
  UpstreamPool pool_;
  h2::UpstreamPool h2Pool_{io_.get_executor()};
  uint64_t rng_;
};

}  // namespace meshd::proxy
