#include "xds/bootstrap.h"

#include <envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <google/protobuf/util/json_util.h>

#include "xds/builders.h"
#include "xds/translate.h"

namespace meshd::xds {

namespace {

std::string get(const std::map<std::string, std::string>& env, const std::string& k, const std::string& dflt = "") {
  auto it = env.find(k);
  return it == env.end() || it->second.empty() ? dflt : it->second;
}

StatusOr<std::pair<std::string, uint32_t>> hostPort(const std::string& name, const std::string& v) {
  size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon + 1 == v.size()) return badRequest(name + " must be host:port, got '" + v + "'");
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    size_t used = 0;
    unsigned long port = std::stoul(v.substr(colon + 1), &used);
    if (used != v.size() - colon - 1 || port == 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(host, static_cast<uint32_t>(port));
  } catch (...) {
    return badRequest(name + " has an invalid port: '" + v + "'");
  }
}

}  // namespace

StatusOr<envoy::config::bootstrap::v3::Bootstrap> makeBootstrap(const std::map<std::string, std::string>& env) {
  std::string resource = get(env, "APPMESH_RESOURCE_ARN", get(env, "APPMESH_VIRTUAL_NODE_NAME"));
  if (resource.empty()) return badRequest("APPMESH_RESOURCE_ARN (or APPMESH_VIRTUAL_NODE_NAME) is required");
  auto proxy = parseProxyId(resource);
  if (!proxy.ok()) return proxy.status();
  auto xds = hostPort("APPMESH_XDS_ENDPOINT", get(env, "APPMESH_XDS_ENDPOINT", "127.0.0.1:18000"));
  if (!xds.ok()) return xds.status();
  uint32_t adminPort = 9901;
  try {
    adminPort = static_cast<uint32_t>(std::stoul(get(env, "ENVOY_ADMIN_ACCESS_PORT", "9901")));
  } catch (...) {
    return badRequest("ENVOY_ADMIN_ACCESS_PORT must be a port number");
  }
  if (adminPort == 0 || adminPort > 65535) return badRequest("ENVOY_ADMIN_ACCESS_PORT must be 1..65535");

  envoy::config::bootstrap::v3::Bootstrap b;
  auto* node = b.mutable_node();
  node->set_id(proxy->key());
  node->set_cluster(proxy->name);
  (*node->mutable_metadata()->mutable_fields())[kIpv6AvailableKey].set_bool_value(
      get(env, "MESHD_IPV6_AVAILABLE", "true") != "false");
  (*node->mutable_metadata()->mutable_fields())[kAdminPortKey].set_number_value(adminPort);
  bool adminV6 = get(env, "ENVOY_ADMIN_ACCESS_ENABLE_IPV6", "false") == "true";
  *b.mutable_admin()->mutable_address() = socketAddress(adminV6 ? "::" : "0.0.0.0", adminPort, adminV6);

  auto* dyn = b.mutable_dynamic_resources();
  auto* ads = dyn->mutable_ads_config();
  // MESHD_XDS_DELTA=true asks for incremental xDS (meshd serves both; App Mesh's image used SotW).
  ads->set_api_type(get(env, "MESHD_XDS_DELTA", "false") == "true" ? envoy::config::core::v3::ApiConfigSource::DELTA_GRPC
                                                                   : envoy::config::core::v3::ApiConfigSource::GRPC);
  ads->set_transport_api_version(envoy::config::core::v3::V3);
  ads->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name(kXdsClusterName);
  *dyn->mutable_cds_config() = adsConfigSource();
  *dyn->mutable_lds_config() = adsConfigSource();

  auto* xdsCluster = b.mutable_static_resources()->add_clusters();
  xdsCluster->set_name(kXdsClusterName);
  xdsCluster->set_type(envoy::config::cluster::v3::Cluster::STRICT_DNS);
  *xdsCluster->mutable_connect_timeout() = millis(1000);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions h2;
  h2.mutable_explicit_http_config()->mutable_http2_protocol_options();
  (*xdsCluster->mutable_typed_extension_protocol_options())["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] = pack(h2);
  auto* cla = xdsCluster->mutable_load_assignment();
  cla->set_cluster_name(kXdsClusterName);
  *cla->add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address() =
      socketAddress(xds->first, xds->second);

  std::string resolver = get(env, "MESHD_DNS_RESOLVER");
  if (!resolver.empty()) {
    auto r = hostPort("MESHD_DNS_RESOLVER", resolver);
    if (!r.ok()) return r.status();
    envoy::extensions::network::dns_resolver::cares::v3::CaresDnsResolverConfig cares;
    *cares.add_resolvers() = socketAddress(r->first, r->second);
    cares.set_use_resolvers_as_fallback(false);
    auto* typed = b.mutable_typed_dns_resolver_config();
    typed->set_name("envoy.network.dns_resolver.cares");
    *typed->mutable_typed_config() = pack(cares);
  }
  return b;
}

std::string bootstrapJson(const envoy::config::bootstrap::v3::Bootstrap& b) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(b, &out, options);
  return out;
}

}  // namespace meshd::xds
