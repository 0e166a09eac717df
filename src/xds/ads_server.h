#pragma once
// The ADS server: Envoy's AggregatedDiscoveryService over gRPC, both state-of-the-world
// (StreamAggregatedResources) and incremental (DeltaAggregatedResources), serving each proxy the
// snapshot the cache holds for it and pushing every new one.
//
// A stream's first request must carry the node; the NodeResolver maps it to the proxy's cache key
// (mesh/<mesh>/virtualNode/<name>, say). If it cannot, the stream ends at once with the resolver's
// message as a gRPC status: NOT_FOUND for a NotFound status, INVALID_ARGUMENT otherwise.
// Every stream is registered in the cache (streamOpened/Updated/Closed) for status reports.
//
// Threads: gRPC's callback API; a stream is a reactor (ads_stream.h) run on gRPC's small thread
// pool, not a thread of its own, so tens of thousands of proxies cost memory, not threads.
// listen() and stop() belong to the owner's thread and go in that order, once each; the
// destructor stops. The cache and resolver must outlive the server; the resolver is called on
// gRPC's threads, concurrently, once per stream, and should be quick (it holds up that thread).

#include <envoy/service/discovery/v3/ads.grpc.pb.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "xds/snapshot_cache.h"

namespace grpc {
class Server;
}

namespace meshd::xds {

using NodeResolver = std::function<StatusOr<std::string>(const envoy::config::core::v3::Node&)>;

class AdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  AdsServer(SnapshotCache& cache, NodeResolver resolver);
  ~AdsServer() override;
  AdsServer(const AdsServer&) = delete;
  AdsServer& operator=(const AdsServer&) = delete;

  // Serves on host:port (port 0 picks a free one) and returns the bound port.
  StatusOr<int> listen(const std::string& hostPort);
  // Ends every stream (proxies see CANCELLED or UNAVAILABLE and reconnect elsewhere) and returns
  // once no handler runs.
  void stop();

  // AggregatedDiscoveryService::CallbackService: each returns a new stream reactor, which gRPC
  // owns until its OnDone.
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override;

 private:
  SnapshotCache& cache_;
  const NodeResolver resolver_;
  std::atomic<uint64_t> nextStreamId_{1};
  std::unique_ptr<grpc::Server> server_;  // owned by the owner's thread
};

}  // namespace meshd::xds
