#include "xds/clusters.h"

#include <envoy/config/cluster/v3/circuit_breaker.pb.h>
#include <envoy/config/core/v3/health_check.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>

#include "model/ip_preference.h"
#include "xds/builders.h"
#include "xds/names.h"

namespace meshd::xds {

using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using nlohmann::json;

namespace {

constexpr int64_t kLocalConnectTimeoutMs = 250;
constexpr int64_t kEgressConnectTimeoutMs = 1000;
constexpr const char* kHttpProtocolOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

bool isHttp2(const std::string& protocol) { return protocol == "http2" || protocol == "grpc"; }

void useHttp2(Cluster& c) {
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
  options.mutable_explicit_http_config()->mutable_http2_protocol_options();
  (*c.mutable_typed_extension_protocol_options())[kHttpProtocolOptions] = pack(options);
}

void addEndpoint(ClusterLoadAssignment& cla, const std::string& address, uint32_t port,
                 envoy::config::core::v3::HealthStatus health = envoy::config::core::v3::UNKNOWN) {
  if (cla.endpoints_size() == 0) cla.add_endpoints();
  auto* lb = cla.mutable_endpoints(0)->add_lb_endpoints();
  *lb->mutable_endpoint()->mutable_address() = socketAddress(address, port);
  if (health != envoy::config::core::v3::UNKNOWN) lb->set_health_status(health);
}

envoy::config::core::v3::HealthCheck healthCheck(const json& hc, const std::string& listenerProtocol) {
  envoy::config::core::v3::HealthCheck out;
  *out.mutable_timeout() = millis(hc["timeoutMillis"].get<int64_t>());
  *out.mutable_interval() = millis(hc["intervalMillis"].get<int64_t>());
  // Envoy checks a cluster that has carried no traffic only every no_traffic_interval (60 s by
  // default). meshctl status and diagnose read the verdicts, which would then lag a change by up to a
  // minute, traffic or not yet: checks run at the virtual node's interval from the start.
  *out.mutable_no_traffic_interval() = out.interval();
  out.mutable_unhealthy_threshold()->set_value(hc["unhealthyThreshold"].get<uint32_t>());
  out.mutable_healthy_threshold()->set_value(hc["healthyThreshold"].get<uint32_t>());
  std::string protocol = hc.value("protocol", listenerProtocol);
  if (protocol == "http" || protocol == "http2") {
    auto* http = out.mutable_http_health_check();
    http->set_path(hc.value("path", "/"));
    if (protocol == "http2") http->set_codec_client_type(envoy::type::v3::HTTP2);
  } else if (protocol == "grpc") {
    out.mutable_grpc_health_check();
  } else {
    out.mutable_tcp_health_check();
  }
  return out;
}

void outlierDetection(Cluster& c, const json& od) {
  auto* o = c.mutable_outlier_detection();
  o->mutable_consecutive_5xx()->set_value(od["maxServerErrors"].get<uint32_t>());
  *o->mutable_interval() = duration(od["interval"]);
  *o->mutable_base_ejection_time() = duration(od["baseEjectionDuration"]);
  o->mutable_max_ejection_percent()->set_value(od["maxEjectionPercent"].get<uint32_t>());
}

// connectionPool limits the sidecar's connections and requests to its own app.
void circuitBreakers(Cluster& c, const json& pool) {
  auto* t = c.mutable_circuit_breakers()->add_thresholds();
  for (const char* kind : {"http", "http2", "grpc", "tcp"}) {
    if (!pool.contains(kind)) continue;
    const json& p = pool[kind];
    if (p.contains("maxConnections")) t->mutable_max_connections()->set_value(p["maxConnections"].get<uint32_t>());
    if (p.contains("maxPendingRequests")) t->mutable_max_pending_requests()->set_value(p["maxPendingRequests"].get<uint32_t>());
    if (p.contains("maxRequests")) t->mutable_max_requests()->set_value(p["maxRequests"].get<uint32_t>());
  }
}

// Instances of a Cloud Map service as EDS endpoints, each at the address the preference picks.
void cloudMapEndpoints(const json& cm, model::IpPreference pref, uint32_t port,
                       const discovery::RegistrySnapshot& registry, ClusterLoadAssignment& cla,
                       std::vector<std::string>* notes, const std::string& target) {
  std::string nsId;
  for (const json& ns : registry.namespaces) {
    if (ns["Name"] == cm["namespaceName"]) nsId = ns["Id"];
  }
  std::string serviceId;
  for (const json& s : registry.services) {
    if (s["NamespaceId"] == nsId && s["Name"] == cm["serviceName"]) serviceId = s["Id"];
  }
  auto it = registry.instances.find(serviceId);
  if (serviceId.empty() || it == registry.instances.end()) {
    notes->push_back("service discovery: " + target + " has no instances registered in Cloud Map service " +
                     cm["namespaceName"].get<std::string>() + "/" + cm["serviceName"].get<std::string>());
    return;
  }
  size_t skipped = 0;
  for (const json& inst : it->second) {
    const json& attrs = inst["Attributes"];
    bool match = true;
    for (const json& a : cm.value("attributes", json::array())) match = match && attrs.value(a["key"].get<std::string>(), "") == a["value"];
    if (!match) continue;
    auto address = model::cloudMapAddress(pref, attrs.value("AWS_INSTANCE_IPV4", ""), attrs.value("AWS_INSTANCE_IPV6", ""));
    if (!address) {
      ++skipped;
      continue;
    }
    uint32_t p = attrs.contains("AWS_INSTANCE_PORT") ? static_cast<uint32_t>(std::stoul(attrs["AWS_INSTANCE_PORT"].get<std::string>())) : port;
    addEndpoint(cla, *address, p, discovery::isHealthy(inst) ? envoy::config::core::v3::HEALTHY : envoy::config::core::v3::UNHEALTHY);
  }
  if (skipped > 0) {
    notes->push_back("service discovery: " + std::to_string(skipped) + " instance(s) of " + target +
                     " have no address of the family " + model::toString(pref) + " allows");
  }
}

}  // namespace

PortMapping portMappingOf(const json& listener) {
  const json& pm = listener["portMapping"];
  return {pm["protocol"].get<std::string>(), pm["port"].get<uint32_t>()};
}

Cluster localAppCluster(const MeshResources& mesh, const std::string& node, const json& nodeSpec, const json& listener) {
  PortMapping pm = portMappingOf(listener);
  Cluster c;
  c.set_name(names::cluster("ingress", mesh.name, node, pm.protocol, pm.port));
  c.set_type(Cluster::STATIC);
  *c.mutable_connect_timeout() = millis(kLocalConnectTimeoutMs);
  auto* cla = c.mutable_load_assignment();
  cla->set_cluster_name(c.name());
  // The app's address follows the node's preference, without fallback: an app that does not
  // listen on that family fails (the walkthrough's "application compatibility" error).
  addEndpoint(*cla, model::localAppAddress(model::effectivePreference(mesh.spec, nodeSpec)), pm.port);
  if (isHttp2(pm.protocol)) useHttp2(c);
  if (listener.contains("connectionPool")) circuitBreakers(c, listener["connectionPool"]);
  return c;
}

Cluster selfRedirectCluster(const MeshResources& mesh, const std::string& gateway, const std::string& protocol,
                            uint32_t listenerPort, bool severalListeners) {
  std::string kind = "self_redirect" + (severalListeners ? "_" + std::to_string(listenerPort) : std::string());
  Cluster c;
  c.set_name(names::cluster("ingress", mesh.name, gateway + "_" + kind, protocol, names::kEgressPort));
  c.set_type(Cluster::STATIC);
  *c.mutable_connect_timeout() = millis(kLocalConnectTimeoutMs);
  auto* cla = c.mutable_load_assignment();
  cla->set_cluster_name(c.name());
  // The egress listener binds 0.0.0.0, or [::] with ipv4_compat: 127.0.0.1 reaches it either way.
  addEndpoint(*cla, "127.0.0.1", names::kEgressPort);
  if (isHttp2(protocol)) useHttp2(c);
  return c;
}

Cluster originalDstCluster(const std::string& name) {
  Cluster c;
  c.set_name(name);
  c.set_type(Cluster::ORIGINAL_DST);
  c.set_lb_policy(Cluster::CLUSTER_PROVIDED);  // Envoy requires it: the host is the destination
  *c.mutable_connect_timeout() = millis(kEgressConnectTimeoutMs);
  return c;
}

Cluster egressCluster(const MeshResources& mesh, const std::string& target, const json& targetSpec,
                      const json& listener, const discovery::RegistrySnapshot& registry,
                      std::optional<ClusterLoadAssignment>* endpoints, std::vector<std::string>* notes) {
  PortMapping pm = portMappingOf(listener);
  model::IpPreference pref = model::effectivePreference(mesh.spec, targetSpec);
  Cluster c;
  c.set_name(names::cluster("egress", mesh.name, target, pm.protocol, pm.port));
  *c.mutable_connect_timeout() = millis(kEgressConnectTimeoutMs);
  const json& sd = targetSpec.value("serviceDiscovery", json::object());
  if (sd.contains("dns")) {
    const json& dns = sd["dns"];
    c.set_type(dns.value("responseType", "LOADBALANCER") == "ENDPOINTS" ? Cluster::STRICT_DNS : Cluster::LOGICAL_DNS);
    switch (model::dnsLookupFamily(pref)) {
      case model::DnsLookupFamily::kV4Only: c.set_dns_lookup_family(Cluster::V4_ONLY); break;
      case model::DnsLookupFamily::kV6Only: c.set_dns_lookup_family(Cluster::V6_ONLY); break;
      case model::DnsLookupFamily::kV4Preferred: c.set_dns_lookup_family(Cluster::V4_PREFERRED); break;
      case model::DnsLookupFamily::kAll: c.set_dns_lookup_family(Cluster::ALL); break;
      case model::DnsLookupFamily::kAuto: c.set_dns_lookup_family(Cluster::AUTO); break;
    }
    auto* cla = c.mutable_load_assignment();
    cla->set_cluster_name(c.name());
    addEndpoint(*cla, dns["hostname"].get<std::string>(), pm.port);
  } else {
    c.set_type(Cluster::EDS);
    *c.mutable_eds_cluster_config()->mutable_eds_config() = adsConfigSource();
    c.mutable_eds_cluster_config()->set_service_name(c.name());
    ClusterLoadAssignment cla;
    cla.set_cluster_name(c.name());
    if (sd.contains("awsCloudMap")) {
      cloudMapEndpoints(sd["awsCloudMap"], pref, pm.port, registry, cla, notes, target);
    } else {
      notes->push_back("service discovery: " + target + " has no service discovery, so no endpoints");
    }
    *endpoints = std::move(cla);
  }
  if (listener.contains("healthCheck")) {
    *c.add_health_checks() = healthCheck(listener["healthCheck"], pm.protocol);
    // Envoy keeps a health-checked host that discovery dropped until it fails a check; a mesh means
    // a deregistered instance (or one the IP preference excludes) to get no more traffic.
    c.set_ignore_health_on_host_removal(true);
  }
  if (listener.contains("outlierDetection")) outlierDetection(c, listener["outlierDetection"]);
  if (isHttp2(pm.protocol)) useHttp2(c);
  return c;
}

}  // namespace meshd::xds
