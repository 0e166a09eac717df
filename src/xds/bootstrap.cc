#include "xds/bootstrap.h"

#include <envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <envoy/config/metrics/v3/stats.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <tuple>

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

// Go's strconv.ParseBool, as the App Mesh image's agent reads its switches; unset is false.
StatusOr<bool> truthy(const std::map<std::string, std::string>& env, const std::string& k) {
  std::string v = get(env, k);
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (v == t) return true;
  }
  for (const char* f : {"", "0", "f", "F", "FALSE", "false", "False"}) {
    if (v == f) return false;
  }
  return badRequest(k + " environment variable (\"" + v + "\") must be a boolean value.");
}

// The agent's env.TruthyOrElse: unset or empty is `otherwise`.
StatusOr<bool> truthyOr(const std::map<std::string, std::string>& env, const std::string& k, bool otherwise) {
  if (get(env, k).empty()) return otherwise;
  return truthy(env, k);
}

// The App Mesh image's runtime, as its agent writes it: a static layer of Envoy feature switches
// (each of three set by a variable) and an empty admin layer, so that POST /runtime_modify works.
Status addRuntime(const std::map<std::string, std::string>& env, envoy::config::bootstrap::v3::Bootstrap& b) {
  auto* layer = b.mutable_layered_runtime()->add_layers();
  layer->set_name("static_layer_0");
  auto& fields = *layer->mutable_static_layer()->mutable_fields();
  fields["envoy.features.enable_all_deprecated_features"].set_bool_value(true);
  // Regexes of any practical size (Envoy's default error level is 100).
  fields["re2.max_program_size.error_level"].set_number_value(1000);
  for (auto [variable, key, otherwise] : {std::tuple{"APPMESH_SET_TRACING_DECISION", "envoy.reloadable_features.http_set_tracing_decision_in_request_id", true},
                                          std::tuple{"ENVOY_NO_EXTENSION_LOOKUP_BY_NAME", "envoy.reloadable_features.no_extension_lookup_by_name", true},
                                          std::tuple{"ENVOY_USE_HTTP_CLIENT_TO_FETCH_AWS_CREDENTIALS",
                                                     "envoy.reloadable_features.use_http_client_to_fetch_aws_credentials", false}}) {
    auto on = truthyOr(env, variable, otherwise);
    if (!on.ok()) return on.status();
    fields[key].set_bool_value(*on);
  }
  auto* admin = b.mutable_layered_runtime()->add_layers();
  admin->set_name("admin_layer");
  admin->mutable_admin_layer();
  return okStatus();
}

// A Go duration as ENVOY_STATS_FLUSH_INTERVAL takes it ("15s", "500ms", "1m30s"), in ms; nullopt
// when it is not one.
std::optional<int64_t> goDurationMs(const std::string& v) {
  static const std::pair<const char*, double> kUnits[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\u00b5s", 1e-3}, {"\u03bcs", 1e-3},
                                                          {"ms", 1},    {"s", 1e3},   {"m", 6e4},         {"h", 3.6e6}};
  if (v == "0") return 0;
  std::string_view rest = v;
  if (!rest.empty() && rest[0] == '+') rest.remove_prefix(1);
  if (rest.empty()) return std::nullopt;
  double total = 0;
  while (!rest.empty()) {
    // digits, an optional fraction, then a unit (Go's time.ParseDuration, without the sign)
    size_t whole = 0;
    while (whole < rest.size() && std::isdigit(static_cast<unsigned char>(rest[whole]))) ++whole;
    size_t end = whole;
    if (end < rest.size() && rest[end] == '.') {
      ++end;
      while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end]))) ++end;
    }
    if (end == 0 || (end == 1 && rest[0] == '.') || end > 30) return std::nullopt;
    double n = std::strtod(std::string(rest.substr(0, end)).c_str(), nullptr);
    rest.remove_prefix(end);
    size_t unit = 0;
    while (unit < rest.size() && !std::isdigit(static_cast<unsigned char>(rest[unit])) && rest[unit] != '.') ++unit;
    auto u = std::find_if(std::begin(kUnits), std::end(kUnits), [&](const auto& x) { return rest.substr(0, unit) == x.first; });
    if (u == std::end(kUnits)) return std::nullopt;
    total += n * u->second;
    rest.remove_prefix(unit);
  }
  if (total > 9.2e15) return std::nullopt;  // past what an int64 of ms holds, as Go's overflow error
  return static_cast<int64_t>(total + 0.5);
}

// The App Mesh image's stats settings: its stats tags (appmesh.mesh and appmesh.virtual_node or
// appmesh.virtual_gateway with ENABLE_ENVOY_STATS_TAGS, and the listener ones always), the flush
// interval, and the DogStatsD sink (ENABLE_ENVOY_DOG_STATSD) to STATSD_SOCKET_PATH, else UDP to
// STATSD_ADDRESS:STATSD_PORT (127.0.0.1:8125).
Status addStats(const std::map<std::string, std::string>& env, const ProxyId& proxy,
                envoy::config::bootstrap::v3::Bootstrap& b) {
  for (const char* file : {"ENVOY_STATS_CONFIG_FILE", "ENVOY_STATS_SINKS_CFG_FILE"}) {
    if (!get(env, file).empty()) {
      return badRequest(std::string(file) + " is not supported: meshd does not merge files into the bootstrap");
    }
  }
  auto tags = truthy(env, "ENABLE_ENVOY_STATS_TAGS");
  if (!tags.ok()) return tags.status();
  auto* stats = b.mutable_stats_config();
  auto fixed = [stats](const std::string& name, const std::string& value) {
    auto* t = stats->add_stats_tags();
    t->set_tag_name(name);
    t->set_fixed_value(value);
  };
  if (*tags) {
    fixed("appmesh.mesh", proxy.mesh);
    fixed(proxy.gateway ? "appmesh.virtual_gateway" : "appmesh.virtual_node", proxy.name);
  }
  for (const auto& [name, regex] : {std::pair{"appmesh.listener_protocol", R"(.*?\.ingress\.((\w+?)\.)[0-9]+?\.(.+?)$)"},
                                    std::pair{"appmesh.listener_port", R"(.*?\.ingress\.\w+?\.(([0-9]+?)\.)(.+?)$)"},
                                    std::pair{"envoy_rds_route_config", R"(.*?\.ingress\.\w+?\.[0-9]+?\.rds\.((.*?)\.)(.+?)$)"}}) {
    auto* t = stats->add_stats_tags();
    t->set_tag_name(name);
    t->set_regex(regex);
  }
  if (std::string v = get(env, "ENVOY_STATS_FLUSH_INTERVAL"); !v.empty()) {
    std::optional<int64_t> ms = goDurationMs(v);
    if (!ms) return badRequest("ENVOY_STATS_FLUSH_INTERVAL (\"" + v + "\") must be a duration such as 5s or 500ms");
    *b.mutable_stats_flush_interval() = millis(*ms);
  }
  auto dog = truthy(env, "ENABLE_ENVOY_DOG_STATSD");
  if (!dog.ok()) return dog.status();
  if (!*dog) return okStatus();
  envoy::config::metrics::v3::DogStatsdSink sink;
  if (std::string path = get(env, "STATSD_SOCKET_PATH"); !path.empty()) {
    sink.mutable_address()->mutable_pipe()->set_path(path);
  } else {
    std::string port = get(env, "STATSD_PORT", "8125");
    uint32_t p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size()) {
      return badRequest("STATSD_PORT environment variable (\"" + port + "\") must be an integer value.");
    }
    auto* sa = sink.mutable_address()->mutable_socket_address();
    sa->set_address(get(env, "STATSD_ADDRESS", "127.0.0.1"));
    sa->set_port_value(p);
    sa->set_protocol(envoy::config::core::v3::SocketAddress::UDP);
  }
  auto* s = b.add_stats_sinks();
  s->set_name("envoy.stat_sinks.dog_statsd");
  *s->mutable_typed_config() = pack(sink);
  return okStatus();
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
  // ENVOY_INITIAL_FETCH_TIMEOUT (seconds): how long CDS and LDS wait for their first answer before
  // the proxy starts without one. The App Mesh image's default, 0, waits for ever.
  std::string fetch = get(env, "ENVOY_INITIAL_FETCH_TIMEOUT", "0");
  int64_t fetchSeconds = 0;
  if (auto [end, ec] = std::from_chars(fetch.data(), fetch.data() + fetch.size(), fetchSeconds);
      ec != std::errc() || end != fetch.data() + fetch.size()) {
    return badRequest("ENVOY_INITIAL_FETCH_TIMEOUT environment variable (\"" + fetch + "\") must be an integer value.");
  }
  if (fetchSeconds < 0) return badRequest("ENVOY_INITIAL_FETCH_TIMEOUT must not be negative");
  for (auto* source : {dyn->mutable_cds_config(), dyn->mutable_lds_config()}) {
    *source = adsConfigSource();
    source->mutable_initial_fetch_timeout()->set_seconds(fetchSeconds);
  }

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

  if (Status st = addStats(env, *proxy, b); !st.ok()) return st;
  if (Status st = addRuntime(env, b); !st.ok()) return st;

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
