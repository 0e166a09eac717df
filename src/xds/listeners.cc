#include "xds/listeners.h"

#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/http/router/v3/router.pb.h>
#include <envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h>
#include <envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>

#include "xds/builders.h"
#include "xds/names.h"

namespace meshd::xds {

using envoy::config::listener::v3::Listener;
using nlohmann::json;

namespace {

namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

// App Mesh's logging.accessLog.file {path, format {text | json [{key, value}]}}.
void accessLog(const json& logging, google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>* out) {
  if (!logging.is_object() || !logging.contains("accessLog") || !logging["accessLog"].contains("file")) return;
  const json& file = logging["accessLog"]["file"];
  envoy::extensions::access_loggers::file::v3::FileAccessLog config;
  config.set_path(file["path"].get<std::string>());
  if (file.contains("format")) {
    const json& f = file["format"];
    if (f.contains("text")) {
      config.mutable_log_format()->mutable_text_format_source()->set_inline_string(f["text"].get<std::string>());
    } else if (f.contains("json")) {
      auto* fields = config.mutable_log_format()->mutable_json_format()->mutable_fields();
      for (const json& kv : f["json"]) (*fields)[kv["key"].get<std::string>()].set_string_value(kv["value"].get<std::string>());
    }
  }
  auto* log = out->Add();
  log->set_name("envoy.access_loggers.file");
  *log->mutable_typed_config() = pack(config);
}

envoy::config::listener::v3::FilterChain* newChain(Listener& l, const ChainMatch& match) {
  auto* chain = l.add_filter_chains();
  if (match.port == 0 && match.serverNames.empty() && match.transportProtocol.empty()) return chain;  // the fallback
  auto* m = chain->mutable_filter_chain_match();
  if (match.port != 0) m->mutable_destination_port()->set_value(match.port);
  for (const auto& n : match.serverNames) m->add_server_names(n);
  m->set_transport_protocol(match.transportProtocol);
  return chain;
}

envoy::config::listener::v3::Filter tcpProxy(const std::string& statPrefix,
                                             const std::vector<std::pair<std::string, uint32_t>>& targets,
                                             const json& logging) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  t.set_stat_prefix(statPrefix);
  if (targets.size() == 1) {
    t.set_cluster(targets[0].first);
  } else {
    for (const auto& [cluster, weight] : targets) {
      auto* c = t.mutable_weighted_clusters()->add_clusters();
      c->set_name(cluster);
      c->set_weight(weight);
    }
  }
  accessLog(logging, t.mutable_access_log());
  envoy::config::listener::v3::Filter filter;
  filter.set_name("envoy.filters.network.tcp_proxy");
  *filter.mutable_typed_config() = pack(t);
  return filter;
}

}  // namespace

Listener listener(const std::string& direction, const model::ListenerBinding& binding, uint32_t port, bool originalDst) {
  Listener l;
  l.set_name(names::listener(direction, binding.address, port));
  *l.mutable_address() = socketAddress(binding.address, port, binding.ipv4Compat);
  // What POST /drain_listeners?inboundonly (the ECS / App Mesh agent's, as a task stops) goes by.
  l.set_traffic_direction(direction == "ingress" ? envoy::config::core::v3::INBOUND : envoy::config::core::v3::OUTBOUND);
  if (originalDst) {
    auto* f = l.add_listener_filters();
    f->set_name("envoy.filters.listener.original_dst");
    *f->mutable_typed_config() = pack(envoy::extensions::filters::listener::original_dst::v3::OriginalDst());
  }
  return l;
}

void addTlsInspector(Listener& l) {
  auto* f = l.add_listener_filters();
  f->set_name("envoy.filters.listener.tls_inspector");
  *f->mutable_typed_config() = pack(envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
}

void addHttpChain(Listener& l, const std::string& statPrefix, const std::string& routeConfig, const json& logging,
                  uint32_t matchPort) {
  hcm::HttpConnectionManager m;
  m.set_stat_prefix(statPrefix);
  m.set_codec_type(hcm::HttpConnectionManager::AUTO);
  auto* rds = m.mutable_rds();
  *rds->mutable_config_source() = adsConfigSource();
  rds->set_route_config_name(routeConfig);
  auto* router = m.add_http_filters();
  router->set_name("envoy.filters.http.router");
  *router->mutable_typed_config() = pack(envoy::extensions::filters::http::router::v3::Router());
  accessLog(logging, m.mutable_access_log());
  auto* filter = newChain(l, ChainMatch{matchPort})->add_filters();
  filter->set_name("envoy.filters.network.http_connection_manager");
  *filter->mutable_typed_config() = pack(m);
}

void addTcpChain(Listener& l, const std::string& statPrefix, const std::string& cluster, const json& logging,
                 uint32_t matchPort) {
  addTcpChain(l, statPrefix, {{cluster, 100}}, logging, matchPort);
}

void addTcpChain(Listener& l, const std::string& statPrefix, const std::string& cluster, const json& logging,
                 const ChainMatch& match) {
  *newChain(l, match)->add_filters() = tcpProxy(statPrefix, {{cluster, 100}}, logging);
}

void addTcpChain(Listener& l, const std::string& statPrefix, const std::vector<std::pair<std::string, uint32_t>>& targets,
                 const json& logging, uint32_t matchPort) {
  *newChain(l, ChainMatch{matchPort})->add_filters() = tcpProxy(statPrefix, targets, logging);
}

void setTcpIdleTimeout(Listener& l, const google::protobuf::Duration& idle) {
  auto* filter = l.mutable_filter_chains(l.filter_chains_size() - 1)->mutable_filters(0);
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  filter->typed_config().UnpackTo(&t);
  *t.mutable_idle_timeout() = idle;
  *filter->mutable_typed_config() = pack(t);
}

}  // namespace meshd::xds
