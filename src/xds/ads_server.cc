#include "xds/ads_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "xds/ads_stream.h"
#include "xds/delta_protocol.h"
#include "xds/sotw_protocol.h"

namespace meshd::xds {

namespace {

// Streams never end on their own, so shutdown cancels them once in-flight writes had this long.
constexpr std::chrono::milliseconds kShutdownGrace{100};

}  // namespace

AdsServer::AdsServer(SnapshotCache& cache, NodeResolver resolver) : cache_(cache), resolver_(std::move(resolver)) {}

AdsServer::~AdsServer() { stop(); }

StatusOr<int> AdsServer::listen(const std::string& hostPort) {
  if (server_) return internalError("the ADS server is already listening");
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(hostPort, grpc::InsecureServerCredentials(), &port);
  // gRPC sets SO_REUSEPORT by default, which would let a second meshd share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return internalError("cannot serve ADS on " + hostPort);
  }
  spdlog::debug("msg=\"ads listening\" address={} port={}", hostPort, port);
  return port;
}

void AdsServer::stop() {
  if (!server_) return;
  // Cancels the streams still open at the deadline, then waits for every reactor's OnDone.
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server_->Wait();
  server_.reset();
}

grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                        envoy::service::discovery::v3::DiscoveryResponse>*
AdsServer::StreamAggregatedResources(grpc::CallbackServerContext* context) {
  return new AdsStream<SotwProtocol>(cache_, resolver_, nextStreamId_++, context);
}

grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                        envoy::service::discovery::v3::DeltaDiscoveryResponse>*
AdsServer::DeltaAggregatedResources(grpc::CallbackServerContext* context) {
  return new AdsStream<DeltaProtocol>(cache_, resolver_, nextStreamId_++, context);
}

}  // namespace meshd::xds
