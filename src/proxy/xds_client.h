#pragma once
// meshproxy's ADS client (gRPC; state of the world, or incremental "delta" xDS when the bootstrap's
// ads_config.api_type is DELTA_GRPC). On its own thread it keeps one stream to the
// management server: sends the bootstrap's node, subscribes to clusters and listeners (wildcard),
// then to the endpoints and route configurations they name; hands each response to the
// ConfigManager on the main thread and ACKs, or NACKs with the reason while the last good
// configuration keeps serving. When the server goes away it reconnects with backoff and resyncs.
// Thread-safety: start/stop from the main thread; everything else is internal.

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>
#include <envoy/service/discovery/v3/discovery.pb.h>
#include <google/protobuf/any.pb.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>
#include <string>
#include <thread>

#include "common/status.h"
#include "proxy/stats.h"

namespace grpc {
class ClientContext;
}

namespace meshd::proxy {

class ConfigManager;

// The management server's "host:port" from the bootstrap (the ADS cluster's first endpoint).
StatusOr<std::string> adsTarget(const envoy::config::bootstrap::v3::Bootstrap& b);

class XdsClient {
 public:
  // `stats` (may be null) gets the subscriptions' counters and the connection's gauge.
  XdsClient(envoy::config::bootstrap::v3::Bootstrap bootstrap, std::string target, boost::asio::io_context& main,
            ConfigManager& manager, XdsStats* stats = nullptr);
  ~XdsClient();

  void start();
  void stop();

  // Streams opened so far (1 after the first connect; grows with each reconnect).
  int streamsOpened() const { return streams_.load(); }
  bool connected() const { return connected_.load(); }

 private:
  // What the main thread answered for one update.
  struct Applied {
    Status status;
    std::vector<std::string> endpoints;
    std::vector<std::string> routes;
  };
  void run();
  void session();
  void sotwSession(grpc::ClientContext& context);
  void deltaSession(grpc::ClientContext& context);  // xds_delta.cc
  // Applies `resources` (the whole set of `type`) on the main thread and waits; nullopt when
  // stopping meanwhile.
  std::optional<Applied> applyOnMain(const std::string& type,
                                     std::shared_ptr<const google::protobuf::RepeatedPtrField<google::protobuf::Any>> resources,
                                     const std::string& version);
  void backoff();
  void markConnected(bool up);

  envoy::config::bootstrap::v3::Bootstrap bootstrap_;
  std::string target_;
  boost::asio::io_context& main_;
  ConfigManager& manager_;
  std::thread thread_;
  std::atomic<int> streams_{0};
  std::atomic<bool> connected_{false};
  XdsStats* stats_;
  std::chrono::milliseconds delay_{0};
  // Delta: the resources accepted so far, by type and name. They outlive a stream, so that a new
  // one starts from initial_resource_versions and the server sends only what changed meanwhile.
  std::map<std::string, std::map<std::string, envoy::service::discovery::v3::Resource>> deltaHeld_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;
};

}  // namespace meshd::proxy
