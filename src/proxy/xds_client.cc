#include "proxy/xds_client.h"

#include <envoy/service/discovery/v3/ads.grpc.pb.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/post.hpp>

#include <future>
#include <map>
#include <random>

#include "proxy/config_manager.h"
#include "proxy/loggers.h"
#include "proxy/xds_types.h"

namespace meshd::proxy {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

namespace {

constexpr auto kBaseDelay = std::chrono::milliseconds(250);
constexpr auto kMaxDelay = std::chrono::milliseconds(4000);

}  // namespace

StatusOr<std::string> adsTarget(const envoy::config::bootstrap::v3::Bootstrap& b) {
  const auto& ads = b.dynamic_resources().ads_config();
  if (ads.grpc_services_size() == 0 || !ads.grpc_services(0).has_envoy_grpc()) {
    return badRequest("the bootstrap has no dynamic_resources.ads_config.grpc_services[0].envoy_grpc");
  }
  const std::string& cluster = ads.grpc_services(0).envoy_grpc().cluster_name();
  for (const auto& c : b.static_resources().clusters()) {
    if (c.name() != cluster) continue;
    for (const auto& l : c.load_assignment().endpoints()) {
      for (const auto& e : l.lb_endpoints()) {
        const auto& sa = e.endpoint().address().socket_address();
        bool v6 = sa.address().find(':') != std::string::npos;
        return (v6 ? "[" + sa.address() + "]" : sa.address()) + ":" + std::to_string(sa.port_value());
      }
    }
    return badRequest("the ADS cluster " + cluster + " has no endpoint");
  }
  return badRequest("the bootstrap has no static cluster " + cluster + " for ADS");
}

XdsClient::XdsClient(envoy::config::bootstrap::v3::Bootstrap bootstrap, std::string target,
                     boost::asio::io_context& main, ConfigManager& manager, XdsStats* stats)
    : bootstrap_(std::move(bootstrap)), target_(std::move(target)), main_(main), manager_(manager), stats_(stats) {}

XdsClient::~XdsClient() { stop(); }

void XdsClient::start() { thread_ = std::thread([this] { run(); }); }

void XdsClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (context_) context_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void XdsClient::run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    session();
    markConnected(false);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (stats_) {  // as Envoy's subscriptions on a failed stream: an attempt that failed
      for (auto* sub : {&stats_->cds, &stats_->lds}) {
        sub->update_attempt++;
        sub->update_failure++;
      }
      boost::asio::post(main_, [&manager = manager_] { manager.subscriptionFailed(); });
    }
    backoff();
  }
}

void XdsClient::markConnected(bool up) {
  connected_ = up;
  if (stats_) stats_->connected_state = up ? 1 : 0;
}

void XdsClient::backoff() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  delay_ = std::min(kMaxDelay, delay_.count() == 0 ? kBaseDelay : delay_ * 2);
  auto jittered = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(delay_.count() / 2, delay_.count())(rng));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, jittered, [&] { return stopping_; });
}

void XdsClient::session() {
  grpc::ClientContext context;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    context_ = &context;
  }
  ++streams_;
  if (bootstrap_.dynamic_resources().ads_config().api_type() == envoy::config::core::v3::ApiConfigSource::DELTA_GRPC) {
    deltaSession(context);
  } else {
    sotwSession(context);
  }
  std::lock_guard lock(mu_);
  context_ = nullptr;
}

std::optional<XdsClient::Applied> XdsClient::applyOnMain(
    const std::string& type, std::shared_ptr<const google::protobuf::RepeatedPtrField<google::protobuf::Any>> resources,
    const std::string& version) {
  auto promise = std::make_shared<std::promise<Applied>>();
  auto future = promise->get_future();
  boost::asio::post(main_, [this, promise, resources, type, version] {
    Applied a;
    a.status = manager_.apply(type, *resources);
    if (XdsStats::Subscription* sub = stats_ ? stats_->of(type) : nullptr) {
      sub->update_attempt++;
      (a.status.ok() ? sub->update_success : sub->update_rejected)++;
    }
    if (a.status.ok()) manager_.setVersion(type, version);
    a.endpoints = manager_.endpointNames();
    a.routes = manager_.routeNames();
    promise->set_value(std::move(a));
  });
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    std::lock_guard lock(mu_);
    if (stopping_) return std::nullopt;  // the main loop is gone or going; the promise is abandoned with the handler
  }
  return future.get();
}

void XdsClient::sotwSession(grpc::ClientContext& context) {
  auto channel = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  auto stream = stub->StreamAggregatedResources(&context);
  // Per type: the last version accepted, the last nonce seen, the names subscribed.
  std::map<std::string, std::string> versions;
  std::map<std::string, std::string> nonces;
  std::map<std::string, std::vector<std::string>> names;
  bool nodeSent = false;
  auto request = [&](const std::string& type) {
    DiscoveryRequest r;
    if (!nodeSent) *r.mutable_node() = bootstrap_.node();
    nodeSent = true;
    r.set_type_url(type);
    r.set_version_info(versions[type]);
    r.set_response_nonce(nonces[type]);
    for (const auto& n : names[type]) r.add_resource_names(n);
    return r;
  };
  // Resync: wildcard clusters and listeners, and what we already know we need.
  bool ok = stream->Write(request(kClusterType)) && stream->Write(request(kListenerType));
  auto resp = std::make_shared<DiscoveryResponse>();
  while (ok && stream->Read(resp.get())) {
    if (!connected_) logger(Log::kConfig).info("msg=\"xDS stream up\" server={}", target_);
    markConnected(true);
    delay_ = std::chrono::milliseconds(0);
    const std::string type = resp->type_url();
    nonces[type] = resp->nonce();
    // The response owns the resources; the main thread may still hold it after we read the next.
    std::shared_ptr<const google::protobuf::RepeatedPtrField<google::protobuf::Any>> resources(resp, &resp->resources());
    auto maybe = applyOnMain(type, resources, resp->version_info());
    if (!maybe) return;
    Applied applied = std::move(*maybe);
    if (applied.status.ok()) versions[type] = resp->version_info();
    DiscoveryRequest ack = request(type);
    if (!applied.status.ok()) {
      logger(Log::kConfig).warn("msg=\"xDS update rejected\" type={} version={} reason=\"{}\"", type, resp->version_info(),
                   applied.status.message());
      ack.mutable_error_detail()->set_code(3);  // INVALID_ARGUMENT, as Envoy sends
      ack.mutable_error_detail()->set_message(applied.status.message());
    }
    ok = stream->Write(ack);
    resp = std::make_shared<DiscoveryResponse>();  // the main thread may still hold the last one
    for (auto [sub, want] : {std::pair{kEndpointType, &applied.endpoints}, std::pair{kRouteType, &applied.routes}}) {
      if (ok && names[sub] != *want) {
        names[sub] = *want;
        ok = stream->Write(request(sub));
      }
    }
  }
  grpc::Status status = stream->Finish();
  logger(Log::kConfig).info("msg=\"xDS stream closed\" server={} code={} error=\"{}\"", target_, static_cast<int>(status.error_code()),
               status.error_message());
}

}  // namespace meshd::proxy
