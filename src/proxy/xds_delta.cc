// The incremental ("delta") flavour of meshproxy's ADS client: the server sends only the resources
// that changed and the names that went away; the client keeps the whole set per type (deltaHeld_),
// hands the ConfigManager whole sets as in state of the world, and ACKs or NACKs each response by
// its nonce. Subscriptions to endpoints and route configurations change by name.
#include <envoy/service/discovery/v3/ads.grpc.pb.h>
#include <grpcpp/grpcpp.h>

#include <set>

#include "proxy/xds_client.h"
#include "proxy/loggers.h"
#include "proxy/xds_types.h"

namespace meshd::proxy {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

void XdsClient::deltaSession(grpc::ClientContext& context) {
  auto channel = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  auto stream = stub->DeltaAggregatedResources(&context);
  std::map<std::string, std::set<std::string>> names;  // endpoints and routes subscribed by name
  std::set<std::string> opened;                        // types this stream has asked for
  bool nodeSent = false;
  auto request = [&](const std::string& type) {
    DeltaDiscoveryRequest r;
    if (!nodeSent) *r.mutable_node() = bootstrap_.node();
    nodeSent = true;
    r.set_type_url(type);
    if (opened.insert(type).second) {  // a type's first request says what we already hold
      for (const auto& [name, held] : deltaHeld_[type]) (*r.mutable_initial_resource_versions())[name] = held.version();
    }
    return r;
  };
  // Clusters and listeners by wildcard (an empty first subscription).
  bool ok = stream->Write(request(kClusterType)) && stream->Write(request(kListenerType));
  DeltaDiscoveryResponse resp;
  while (ok && stream->Read(&resp)) {
    if (!connected_) logger(Log::kConfig).info("msg=\"xDS stream up\" server={} delta=true", target_);
    markConnected(true);
    delay_ = std::chrono::milliseconds(0);
    const std::string type = resp.type_url();
    auto next = deltaHeld_[type];
    for (const auto& r : resp.resources()) next[r.name()] = r;
    for (const auto& name : resp.removed_resources()) next.erase(name);
    auto whole = std::make_shared<google::protobuf::RepeatedPtrField<google::protobuf::Any>>();
    for (const auto& [name, r] : next) *whole->Add() = r.resource();
    auto maybe = applyOnMain(type, whole, resp.system_version_info());
    if (!maybe) return;
    DeltaDiscoveryRequest ack = request(type);
    ack.set_response_nonce(resp.nonce());
    if (maybe->status.ok()) {
      deltaHeld_[type] = std::move(next);
    } else {
      logger(Log::kConfig).warn("msg=\"xDS update rejected\" type={} nonce={} reason=\"{}\"", type, resp.nonce(),
                   maybe->status.message());
      ack.mutable_error_detail()->set_code(3);  // INVALID_ARGUMENT, as Envoy sends
      ack.mutable_error_detail()->set_message(maybe->status.message());
    }
    ok = stream->Write(ack);
    for (auto [sub, want] : {std::pair{kEndpointType, &maybe->endpoints}, std::pair{kRouteType, &maybe->routes}}) {
      std::set<std::string> wanted(want->begin(), want->end());
      std::set<std::string>& have = names[sub];
      if (!opened.count(sub)) {  // held from an earlier stream but no longer wanted: not worth offering
        std::erase_if(deltaHeld_[sub], [&](const auto& held) { return !wanted.count(held.first); });
      }
      if (!ok || (wanted == have && opened.count(sub))) continue;
      DeltaDiscoveryRequest change = request(sub);
      for (const auto& n : wanted) {
        if (!have.count(n)) change.add_resource_names_subscribe(n);
      }
      for (const auto& n : have) {
        if (wanted.count(n)) continue;
        change.add_resource_names_unsubscribe(n);
        deltaHeld_[sub].erase(n);  // the server forgets it too, without saying so
      }
      have = std::move(wanted);
      if (change.resource_names_subscribe_size() + change.resource_names_unsubscribe_size() > 0 ||
          change.initial_resource_versions_size() > 0) {
        ok = stream->Write(change);
      }
    }
  }
  grpc::Status status = stream->Finish();
  logger(Log::kConfig).info("msg=\"xDS stream closed\" server={} code={} error=\"{}\"", target_, static_cast<int>(status.error_code()),
               status.error_message());
}

}  // namespace meshd::proxy
