#include "xds/diagnose.h"

#include <arpa/inet.h>

#include <set>

#include "model/ip_preference.h"

namespace meshd::xds {

using nlohmann::json;

namespace {

std::string addressText(const dns::Record& r) {
  char buf[64];
  if (auto* v4 = std::get_if<dns::Ipv4>(&r.data)) return inet_ntop(AF_INET, v4->data(), buf, sizeof buf);
  if (auto* v6 = std::get_if<dns::Ipv6>(&r.data)) return inet_ntop(AF_INET6, v6->data(), buf, sizeof buf);
  return "";
}

// The first address a DNS answer gives for `type`, or "".
std::string firstAddress(const dns::ZoneSet& zones, const std::string& name, dns::RecordType type) {
  dns::Answer a = dns::lookup(zones, name, type);
  for (const dns::Record& r : a.answers) {
    if (r.type == type) return addressText(r);
  }
  return "";
}

bool isV6(const std::string& address) { return address.find(':') != std::string::npos; }

// What a caller resolves `hostname` to with Envoy's lookup family for `pref`.
void resolveDns(const dns::ZoneSet& zones, const std::string& hostname, model::IpPreference pref, Diagnosis& d) {
  model::DnsLookupFamily family = model::dnsLookupFamily(pref);
  d.discovery = "dns " + hostname + " " + model::toString(family);
  if (!zones.zoneFor(hostname)) {
    d.outcome = "unknown";
    d.reasons.push_back("service discovery: " + hostname + " is not in a zone meshd serves; cannot predict");
    return;
  }
  std::string v4 = firstAddress(zones, hostname, dns::RecordType::kA);
  std::string v6 = firstAddress(zones, hostname, dns::RecordType::kAaaa);
  switch (family) {
    case model::DnsLookupFamily::kV4Only: d.address = v4; break;
    case model::DnsLookupFamily::kV6Only: d.address = v6; break;
    case model::DnsLookupFamily::kV4Preferred: d.address = v4.empty() ? v6 : v4; break;
    default: d.address = v6.empty() ? v4 : v6; break;  // AUTO asks AAAA first
  }
  if (d.address.empty()) {
    d.outcome = "service discovery";
    d.reasons.push_back("service discovery: " + hostname + " has " +
                        (v4.empty() && v6.empty() ? std::string("no address") : v4.empty() ? "only IPv6 (AAAA)" : "only IPv4 (A)") +
                        " and " + d.target + "'s preference is " + model::toString(pref));
  }
}

void resolveCloudMap(const World& world, const json& cm, model::IpPreference pref, Diagnosis& d) {
  d.discovery = "cloudmap " + cm.value("namespaceName", "") + "/" + cm.value("serviceName", "");
  std::string nsId, svcId;
  for (const json& ns : world.registry.namespaces) {
    if (ns["Name"] == cm["namespaceName"]) nsId = ns["Id"];
  }
  for (const json& s : world.registry.services) {
    if (s["NamespaceId"] == nsId && s["Name"] == cm["serviceName"]) svcId = s["Id"];
  }
  auto it = world.registry.instances.find(svcId);
  bool any = false, v4 = false, v6 = false;
  if (it != world.registry.instances.end()) {
    for (const json& inst : it->second) {
      const json& attrs = inst["Attributes"];
      any = true;
      v4 = v4 || attrs.contains("AWS_INSTANCE_IPV4");
      v6 = v6 || attrs.contains("AWS_INSTANCE_IPV6");
      auto address = model::cloudMapAddress(pref, attrs.value("AWS_INSTANCE_IPV4", ""), attrs.value("AWS_INSTANCE_IPV6", ""));
      if (address && d.address.empty()) d.address = *address;
    }
  }
  if (d.address.empty()) {
    d.outcome = "service discovery";
    d.reasons.push_back("service discovery: " + d.target + " has " +
                        (!any ? std::string("no instance registered") : !v6 ? "no IPv6 address registered" : "no IPv4 address registered") +
                        " and its preference is " + model::toString(pref));
  }
}

bool hasHealthCheck(const json& nodeSpec) {
  for (const json& l : nodeSpec.value("listeners", json::array())) {
    if (l.contains("healthCheck")) return true;
  }
  return false;
}

// The caller's verdict on the target's host, from its egress cluster cds_egress_<mesh>_<node>_...:
// the target's health check goes through its sidecar to its app over `family`.
void judgeByHealthCheck(const MeshResources& mesh, const std::string& caller, const std::string& target,
                        const CallerHealth& health, const std::string& family, Diagnosis& d) {
  auto reported = health.find(caller);
  if (reported == health.end() || !hasHealthCheck(mesh.virtualNodes.at(target))) return;
  std::string prefix = "cds_egress_" + mesh.name + "_" + target + "_";
  for (const auto& [cluster, hosts] : reported->second) {
    if (cluster.compare(0, prefix.size(), prefix) != 0 || hosts.empty()) continue;
    const std::string& flags = hosts.front().flags;
    if (flags.find("pending_active_hc") != std::string::npos) {
      d.health = "pending";
      d.reasons.push_back("health check: not run yet; whether the app accepts " + family + " is not known");
    } else if (flags.find("failed_active_hc") != std::string::npos) {
      d.health = "failing";
      d.outcome = "application";
      d.reasons.insert(d.reasons.begin(), "application: the health check of " + target + " fails: its app does not accept " +
                                              family + " (" + d.appAddress + ")");
    } else {
      d.health = "passing";
      d.reasons.insert(d.reasons.begin(), "application: the health check of " + target + " passes: its app accepts " +
                                              family + " (" + d.appAddress + ")");
    }
    return;
  }
}

// App Mesh TLS that meshd does not translate yet: the target's listeners asking for it (mode
// STRICT or PERMISSIVE), and the caller's client policy (its backend defaults or the backend's
// own) enforcing it. Said, because the traffic then flows in plaintext.
void noteTls(const MeshResources& mesh, const std::string& caller, const std::string& target, const json& targetSpec,
             Diagnosis& d) {
  for (const json& l : targetSpec.value("listeners", json::array())) {
    if (!l.contains("tls")) continue;
    std::string mode = l["tls"].value("mode", "STRICT");
    if (mode == "DISABLED") continue;
    d.reasons.push_back("tls: " + target + "'s listener asks for TLS (mode " + mode +
                        "), which meshd does not provide yet: this traffic is plaintext");
    break;
  }
  auto slash = caller.rfind('/');
  std::string name = caller.substr(slash + 1);
  bool gateway = caller.find("/virtualGateway/") != std::string::npos;
  const auto& specs = gateway ? mesh.virtualGateways : mesh.virtualNodes;
  auto it = specs.find(name);
  if (it == specs.end()) return;
  bool enforced = false;
  const json& defaults = it->second.value("backendDefaults", json::object());
  if (defaults.contains("clientPolicy") && defaults["clientPolicy"].contains("tls")) {
    enforced = defaults["clientPolicy"]["tls"].value("enforce", true);
  }
  for (const json& b : it->second.value("backends", json::array())) {
    const json& vs = b.value("virtualService", json::object());
    if (vs.contains("clientPolicy") && vs["clientPolicy"].contains("tls")) enforced = enforced || vs["clientPolicy"]["tls"].value("enforce", true);
  }
  if (enforced) {
    d.reasons.push_back("tls: the caller's client policy enforces TLS, which meshd does not provide yet: this traffic is plaintext");
  }
}

Diagnosis diagnoseTarget(const World& world, const dns::ZoneSet& zones, const MeshResources& mesh,
                         const std::string& caller, const std::string& target, const CallerHealth& health) {
  Diagnosis d;
  d.caller = caller;
  d.target = target;
  const json& spec = mesh.virtualNodes.at(target);
  model::IpPreference pref = model::effectivePreference(mesh.spec, spec);
  d.preference = model::toString(pref);
  d.sidecarBind = model::listenerBinding(pref, true).address;
  d.appAddress = model::localAppAddress(pref);
  const json& sd = spec.value("serviceDiscovery", json::object());
  if (sd.contains("dns")) {
    resolveDns(zones, sd["dns"]["hostname"].get<std::string>(), pref, d);
  } else if (sd.contains("awsCloudMap")) {
    resolveCloudMap(world, sd["awsCloudMap"], pref, d);
  } else {
    d.outcome = "service discovery";
    d.reasons.push_back("service discovery: " + target + " has none configured");
  }
  if (!d.outcome.empty()) return d;
  if (isV6(d.address) && d.sidecarBind == "0.0.0.0") {
    d.outcome = "connection";
    d.reasons.push_back("connection: callers reach " + target + " over IPv6 (" + d.address +
                        ") but its sidecar listens on 0.0.0.0 only (no preference)");
    return d;
  }
  d.outcome = "ok";
  noteTls(mesh, caller, target, spec, d);
  std::string family = isV6(d.appAddress) ? "IPv6" : "IPv4";
  d.reasons.push_back("application: the sidecar will reach the app over " + d.appAddress + " (" + family +
                      "); the app must accept " + family + ", with no fallback");
  judgeByHealthCheck(mesh, caller, target, health, family, d);
  return d;
}

// The virtual nodes a caller reaches: through gateway routes (a gateway) or backends (a node),
// via each virtual service's provider node or router targets.
std::set<std::string> targetsOf(const MeshResources& mesh, bool gateway, const std::string& name) {
  std::set<std::string> services;
  if (gateway) {
    auto routes = mesh.gatewayRoutes.find(name);
    if (routes != mesh.gatewayRoutes.end()) {
      for (const auto& [_, spec] : routes->second) {
        for (const char* kind : {"httpRoute", "http2Route", "grpcRoute"}) {
          if (spec.contains(kind)) services.insert(spec[kind]["action"]["target"]["virtualService"]["virtualServiceName"].get<std::string>());
        }
      }
    }
  } else {
    for (const json& b : mesh.virtualNodes.at(name).value("backends", json::array())) {
      if (b.contains("virtualService")) services.insert(b["virtualService"]["virtualServiceName"].get<std::string>());
    }
  }
  std::set<std::string> nodes;
  for (const std::string& vs : services) {
    auto it = mesh.virtualServices.find(vs);
    if (it == mesh.virtualServices.end()) continue;
    const json& p = it->second.value("provider", json::object());
    if (p.contains("virtualNode")) nodes.insert(p["virtualNode"]["virtualNodeName"].get<std::string>());
    if (p.contains("virtualRouter")) {
      auto routes = mesh.routes.find(p["virtualRouter"]["virtualRouterName"].get<std::string>());
      if (routes == mesh.routes.end()) continue;
      for (const auto& [_, spec] : routes->second) {
        for (const char* kind : {"httpRoute", "http2Route", "grpcRoute", "tcpRoute"}) {
          if (!spec.contains(kind)) continue;
          for (const json& t : spec[kind]["action"]["weightedTargets"]) nodes.insert(t["virtualNode"].get<std::string>());
        }
      }
    }
  }
  std::erase_if(nodes, [&](const std::string& n) { return !mesh.virtualNodes.count(n); });
  return nodes;
}

}  // namespace

json Diagnosis::toJson() const {
  return {{"caller", caller},   {"target", target},           {"preference", preference}, {"discovery", discovery},
          {"address", address}, {"sidecarBind", sidecarBind}, {"appAddress", appAddress}, {"outcome", outcome},
          {"health", health},   {"reasons", reasons}};
}

std::vector<Diagnosis> diagnose(const World& world, const dns::ZoneSet& zones, const std::string& meshName,
                                const std::string& caller, const CallerHealth& health) {
  std::vector<Diagnosis> out;
  auto mesh = world.meshes.find(meshName);
  if (mesh == world.meshes.end()) return out;
  const MeshResources& m = mesh->second;
  auto visit = [&](bool gateway, const std::string& name) {
    if (!caller.empty() && caller != name) return;
    std::string id = "mesh/" + meshName + (gateway ? "/virtualGateway/" : "/virtualNode/") + name;
    for (const std::string& target : targetsOf(m, gateway, name)) out.push_back(diagnoseTarget(world, zones, m, id, target, health));
  };
  for (const auto& [name, _] : m.virtualGateways) visit(true, name);
  for (const auto& [name, _] : m.virtualNodes) visit(false, name);
  return out;
}

}  // namespace meshd::xds
