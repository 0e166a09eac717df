#include "xds/translate.h"

#include <set>

#include "model/ip_preference.h"
#include "xds/builders.h"
#include "xds/clusters.h"
#include "xds/listeners.h"
#include "xds/names.h"
#include "xds/routes.h"

namespace meshd::xds {

using envoy::config::route::v3::RouteConfiguration;
using envoy::config::route::v3::VirtualHost;
using nlohmann::json;

namespace {

bool isHttpProtocol(const std::string& p) { return p == "http" || p == "http2" || p == "grpc"; }

// The route kind a listener of `protocol` serves.
std::string routeKindFor(const std::string& protocol) {
  return protocol == "http2" ? "http2Route" : protocol == "grpc" ? "grpcRoute" : protocol == "tcp" ? "tcpRoute" : "httpRoute";
}

// Translation state for one proxy: the output, and the egress clusters added so far.
class Translator {
 public:
  Translator(const World& world, const MeshResources& mesh, const ProxyInfo& info)
      : world_(world), mesh_(mesh), info_(info) {}

  Translation node(const std::string& name, const json& spec);
  Translation gateway(const std::string& name, const json& spec);

 private:
  std::string clusterOf(const std::string& node, uint32_t port);
  // Envoy routes reaching virtual service `vs` (its provider node or its router's routes).
  std::vector<envoy::config::route::v3::Route> serviceRoutes(const std::string& vs, std::vector<uint32_t>* ports);
  // (cluster, weight) pairs serving node-provided `vs` for a gateway route targeting `port` (0: any).
  std::vector<std::pair<std::string, uint32_t>> serviceClusters(const std::string& vs, uint32_t port);
  model::ListenerBinding binding(model::IpPreference pref);
  // rds_egress_http_15001: a virtual host per service (by name and name:port). `byHeader` adds a
  // catch-all host routing by x-app-mesh-virtual-service, for a gateway's self-redirected requests
  // that kept their own Host.
  RouteConfiguration egressRoutes(const std::set<std::string>& services, bool byHeader);
  // TCP services have no Host to route by: one egress filter chain per destination port.
  void addEgressTcpChains(envoy::config::listener::v3::Listener& egress, const std::set<std::string>& services,
                          const json& logging);
  // Port -> (cluster, weight) for each TCP listener of `vs`'s provider.
  std::map<uint32_t, std::vector<std::pair<std::string, uint32_t>>> tcpTargets(const std::string& vs);
  bool routerProvided(const std::string& vs) const;

  const World& world_;
  const MeshResources& mesh_;
  const ProxyInfo& info_;
  Translation out_;
  std::set<std::string> clusters_;
};

model::ListenerBinding Translator::binding(model::IpPreference pref) {
  model::ListenerBinding b = model::listenerBinding(pref, info_.hasIpv6);
  if (b.degraded) {
    out_.notes.push_back("listeners: preference " + model::toString(pref) +
                         " asks for [::] but the proxy's host has no IPv6; bound 0.0.0.0 instead");
  }
  return b;
}

std::string Translator::clusterOf(const std::string& node, uint32_t port) {
  auto it = mesh_.virtualNodes.find(node);
  if (it == mesh_.virtualNodes.end()) return "";
  const json& spec = it->second;
  for (const json& l : spec.value("listeners", json::array())) {
    if (port != 0 && portMappingOf(l).port != port) continue;
    PortMapping pm = portMappingOf(l);
    std::string name = names::cluster("egress", mesh_.name, node, pm.protocol, pm.port);
    if (clusters_.insert(name).second) {
      std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment> cla;
      out_.clusters.push_back(egressCluster(mesh_, node, spec, l, world_.registry, &cla, &out_.notes));
      if (cla) out_.endpoints.push_back(std::move(*cla));
    }
    return name;
  }
  out_.notes.push_back("target: virtual node " + node + " has no listener" +
                       (port ? " on port " + std::to_string(port) : ""));
  return "";
}

std::vector<std::pair<std::string, uint32_t>> Translator::serviceClusters(const std::string& vs, uint32_t port) {
  std::vector<std::pair<std::string, uint32_t>> out;
  auto it = mesh_.virtualServices.find(vs);
  if (it == mesh_.virtualServices.end()) return out;
  const json& provider = it->second.value("provider", json::object());
  if (provider.contains("virtualNode")) {
    std::string c = clusterOf(provider["virtualNode"]["virtualNodeName"].get<std::string>(), port);
    if (!c.empty()) out.emplace_back(c, 100);
  }
  return out;
}

std::vector<envoy::config::route::v3::Route> Translator::serviceRoutes(const std::string& vs,
                                                                      std::vector<uint32_t>* ports) {
  std::vector<envoy::config::route::v3::Route> out;
  const json& provider = mesh_.virtualServices.at(vs).value("provider", json::object());
  if (provider.contains("virtualNode")) {
    std::string node = provider["virtualNode"]["virtualNodeName"].get<std::string>();
    auto it = mesh_.virtualNodes.find(node);
    if (it == mesh_.virtualNodes.end()) return out;
    for (const json& l : it->second.value("listeners", json::array())) {
      PortMapping pm = portMappingOf(l);
      if (!isHttpProtocol(pm.protocol)) continue;
      ports->push_back(pm.port);
      if (!out.empty()) continue;  // the first HTTP listener serves the plain service name
      std::string cluster = clusterOf(node, pm.port);
      if (cluster.empty()) continue;
      envoy::config::route::v3::Route r;
      r.set_name(vs);
      r.mutable_match()->set_prefix("/");
      r.mutable_route()->set_cluster(cluster);
      out.push_back(std::move(r));
    }
    return out;
  }
  if (!provider.contains("virtualRouter")) {
    out_.notes.push_back("backend: virtual service " + vs + " has no provider");
    return out;
  }
  std::string router = provider["virtualRouter"]["virtualRouterName"].get<std::string>();
  auto r = mesh_.virtualRouters.find(router);
  if (r == mesh_.virtualRouters.end()) return out;
  for (const json& l : r->second.value("listeners", json::array())) {
    PortMapping pm = portMappingOf(l);
    if (!isHttpProtocol(pm.protocol)) continue;
    ports->push_back(pm.port);
    if (!out.empty()) continue;
    auto routes = mesh_.routes.find(router);
    if (routes == mesh_.routes.end()) continue;
    std::string kind = routeKindFor(pm.protocol);
    for (const auto& [name, spec] : byPriority(routes->second)) {
      if (routeKind(*spec) != kind) continue;
      auto route = meshRoute(name, *spec, [this](const std::string& n, uint32_t p) { return clusterOf(n, p); },
                             &out_.notes);
      if (route) out.push_back(std::move(*route));
    }
  }
  return out;
}

bool Translator::routerProvided(const std::string& vs) const {
  auto it = mesh_.virtualServices.find(vs);
  return it != mesh_.virtualServices.end() && it->second.value("provider", json::object()).contains("virtualRouter");
}

RouteConfiguration Translator::egressRoutes(const std::set<std::string>& services, bool byHeader) {
  RouteConfiguration rc;
  rc.set_name(names::routeConfig("egress", "http", names::kEgressPort));
  VirtualHost fallback;
  fallback.set_name("default_backend");
  fallback.add_domains("*");
  for (const std::string& vs : services) {
    if (!mesh_.virtualServices.count(vs)) {
      out_.notes.push_back("backend: virtual service " + vs + " does not exist in mesh " + mesh_.name);
      continue;
    }
    std::vector<uint32_t> ports;
    auto routes = serviceRoutes(vs, &ports);
    if (routes.empty()) continue;
    VirtualHost* vh = rc.add_virtual_hosts();
    vh->set_name(vs);
    vh->add_domains(vs);
    for (uint32_t p : ports) vh->add_domains(vs + ":" + std::to_string(p));
    for (const auto& r : routes) {
      *vh->add_routes() = r;
      if (!byHeader) continue;
      auto* h = fallback.add_routes();
      *h = r;
      auto* m = h->mutable_match()->add_headers();
      m->set_name(names::kVirtualServiceHeader);
      m->mutable_string_match()->set_exact(vs);
    }
  }
  if (fallback.routes_size() > 0) *rc.add_virtual_hosts() = std::move(fallback);
  return rc;
}

std::map<uint32_t, std::vector<std::pair<std::string, uint32_t>>> Translator::tcpTargets(const std::string& vs) {
  std::map<uint32_t, std::vector<std::pair<std::string, uint32_t>>> out;
  auto it = mesh_.virtualServices.find(vs);
  if (it == mesh_.virtualServices.end()) return out;
  const json& provider = it->second.value("provider", json::object());
  if (provider.contains("virtualNode")) {
    std::string node = provider["virtualNode"]["virtualNodeName"].get<std::string>();
    auto n = mesh_.virtualNodes.find(node);
    if (n == mesh_.virtualNodes.end()) return out;
    for (const json& l : n->second.value("listeners", json::array())) {
      PortMapping pm = portMappingOf(l);
      if (pm.protocol != "tcp") continue;
      if (std::string c = clusterOf(node, pm.port); !c.empty()) out[pm.port] = {{c, 100}};
    }
    return out;
  }
  if (!provider.contains("virtualRouter")) return out;
  std::string router = provider["virtualRouter"]["virtualRouterName"].get<std::string>();
  auto r = mesh_.virtualRouters.find(router);
  auto routes = mesh_.routes.find(router);
  if (r == mesh_.virtualRouters.end() || routes == mesh_.routes.end()) return out;
  for (const json& l : r->second.value("listeners", json::array())) {
    PortMapping pm = portMappingOf(l);
    if (pm.protocol != "tcp") continue;
    for (const auto& [name, spec] : byPriority(routes->second)) {  // the first tcpRoute for the port
      if (routeKind(*spec) != "tcpRoute") continue;
      const json& tcp = (*spec)["tcpRoute"];
      uint32_t port = tcp.value("match", json::object()).value("port", 0u);
      if (port != 0 && port != pm.port) continue;
      std::vector<std::pair<std::string, uint32_t>> targets;
      for (const json& t : tcp["action"]["weightedTargets"]) {
        std::string c = clusterOf(t["virtualNode"].get<std::string>(), t.value("port", 0u));
        if (!c.empty() && t["weight"].get<uint32_t>() > 0) targets.emplace_back(c, t["weight"].get<uint32_t>());
      }
      if (!targets.empty()) out[pm.port] = std::move(targets);
      break;
    }
  }
  return out;
}

void Translator::addEgressTcpChains(envoy::config::listener::v3::Listener& egress, const std::set<std::string>& services,
                                    const json& logging) {
  std::map<uint32_t, std::string> taken;  // port -> the service that has it
  for (const std::string& vs : services) {
    for (const auto& [port, targets] : tcpTargets(vs)) {
      if (auto [at, fresh] = taken.emplace(port, vs); !fresh) {
        out_.notes.push_back("backend: TCP port " + std::to_string(port) + " of " + vs + " is already " + at->second +
                             "'s; TCP is routed by destination port only");
        continue;
      }
      addTcpChain(egress, "egress", targets, logging, port);
    }
  }
}

Translation Translator::node(const std::string& name, const json& spec) {
  model::ListenerBinding bind = binding(model::effectivePreference(mesh_.spec, spec));
  const json logging = spec.value("logging", json());
  const json listeners = spec.value("listeners", json::array());

  // Ingress: traffic for the node's listener ports, to its own app.
  if (!listeners.empty()) {
    auto ingress = listener("ingress", bind, names::kIngressPort, true);
    for (const json& l : listeners) {
      PortMapping pm = portMappingOf(l);
      auto local = localAppCluster(mesh_, name, spec, l);
      // With one listener every connection is for it, redirected or not.
      uint32_t match = listeners.size() > 1 ? pm.port : 0;
      if (isHttpProtocol(pm.protocol)) {
        std::string rc = names::routeConfig("ingress", pm.protocol, pm.port);
        addHttpChain(ingress, "ingress", rc, logging, match);
        RouteConfiguration routes;
        routes.set_name(rc);
        VirtualHost* vh = routes.add_virtual_hosts();
        vh->set_name(name + "_" + std::to_string(pm.port));
        vh->add_domains("*");
        auto* r = vh->add_routes();
        r->mutable_match()->set_prefix("/");
        r->mutable_route()->set_cluster(local.name());
        const json timeout = l.value("timeout", json::object()).value(pm.protocol, json::object());
        if (timeout.contains("perRequest")) *r->mutable_route()->mutable_timeout() = duration(timeout["perRequest"]);
        if (timeout.contains("idle")) *r->mutable_route()->mutable_idle_timeout() = duration(timeout["idle"]);
        out_.routes.push_back(std::move(routes));
      } else {
        addTcpChain(ingress, "ingress", local.name(), logging, match);
      }
      out_.clusters.push_back(std::move(local));
    }
    out_.listeners.push_back(std::move(ingress));
  }

  // Egress: the node's backends (every service of the mesh when its egress filter is ALLOW_ALL).
  std::set<std::string> backends;
  for (const json& b : spec.value("backends", json::array())) {
    if (b.contains("virtualService")) backends.insert(b["virtualService"]["virtualServiceName"].get<std::string>());
  }
  if (mesh_.spec.value("egressFilter", json::object()).value("type", "DROP_ALL") == "ALLOW_ALL") {
    for (const auto& [vs, _] : mesh_.virtualServices) backends.insert(vs);
  }
  RouteConfiguration routes = egressRoutes(backends, false);
  auto egress = listener("egress", bind, names::kEgressPort, true);
  addEgressTcpChains(egress, backends, logging);
  addHttpChain(egress, "egress", routes.name(), logging);
  out_.listeners.push_back(std::move(egress));
  out_.routes.push_back(std::move(routes));
  return std::move(out_);
}

Translation Translator::gateway(const std::string& name, const json& spec) {
  model::ListenerBinding bind = binding(model::gatewayPreference(mesh_.spec));
  const json logging = spec.value("logging", json());
  auto gatewayRoutes = mesh_.gatewayRoutes.find(name);
  const json listeners = spec.value("listeners", json::array());
  // A node-provided service is reached directly; a router-provided one through the gateway's own
  // egress listener (App Mesh's self-redirect), where the router's routes apply in full.
  std::set<std::string> redirected;
  for (const json& l : listeners) {
    PortMapping pm = portMappingOf(l);
    if (!isHttpProtocol(pm.protocol)) continue;
    std::string rc = names::routeConfig("ingress", pm.protocol, pm.port);
    auto gw = listener("ingress", bind, pm.port, false);
    addHttpChain(gw, "ingress", rc, logging);
    out_.listeners.push_back(std::move(gw));
    RouteConfiguration routes;
    routes.set_name(rc);
    // One virtual host per hostname match; routes without one go to the catch-all host.
    std::map<std::string, VirtualHost> hosts;
    std::string kind = routeKindFor(pm.protocol);
    if (gatewayRoutes != mesh_.gatewayRoutes.end()) {
      auto ordered = byPriority(gatewayRoutes->second);
      // Within a priority, the longer prefix is the more specific match.
      std::stable_sort(ordered.begin(), ordered.end(), [&](const auto& a, const auto& b) {
        int pa = a.second->value("priority", 1001), pb = b.second->value("priority", 1001);
        if (pa != pb) return pa < pb;
        auto len = [&](const json* s) {
          return (*s)[routeKind(*s)].value("match", json::object()).value("prefix", std::string()).size();
        };
        return len(a.second) > len(b.second);
      });
      for (const auto& [routeName, spec] : ordered) {
        if (routeKind(*spec) != kind) continue;
        const json& r = (*spec)[kind];
        const json& target = r["action"]["target"];
        std::string vs = target["virtualService"]["virtualServiceName"].get<std::string>();
        bool viaEgress = routerProvided(vs);
        auto clusters = viaEgress ? std::vector<std::pair<std::string, uint32_t>>{} : serviceClusters(vs, target.value("port", 0u));
        if (viaEgress) {
          auto c = selfRedirectCluster(mesh_, name, pm.protocol, pm.port, listeners.size() > 1);
          clusters.emplace_back(c.name(), 100);
          if (clusters_.insert(c.name()).second) out_.clusters.push_back(std::move(c));
          redirected.insert(vs);
        }
        if (clusters.empty()) {
          out_.notes.push_back("gateway route " + routeName + ": virtual service " + vs + " has no reachable provider");
          continue;
        }
        const json hostname = r.value("match", json::object()).value("hostname", json::object());
        std::string domain = hostname.contains("exact") ? hostname["exact"].get<std::string>()
                             : hostname.contains("suffix") ? "*" + hostname["suffix"].get<std::string>()
                                                           : "*";
        VirtualHost& vh = hosts[domain];
        if (vh.name().empty()) {
          vh.set_name(domain == "*" ? name : domain);
          vh.add_domains(domain);
        }
        for (auto& route : xds::gatewayRoutes(routeName, *spec, vs, clusters)) {
          if (viaEgress && route.route().host_rewrite_literal().empty()) {  // its Host no longer names the service
            auto* h = route.add_request_headers_to_add()->mutable_header();
            h->set_key(names::kVirtualServiceHeader);
            h->set_value(vs);
          }
          *vh.add_routes() = std::move(route);
        }
      }
    }
    // Exact hosts before suffixes before the catch-all, as Envoy picks the first that matches.
    for (const auto& [domain, vh] : hosts) {
      if (domain != "*") *routes.add_virtual_hosts() = vh;
    }
    if (hosts.count("*")) *routes.add_virtual_hosts() = hosts["*"];
    out_.routes.push_back(std::move(routes));
  }
  if (!redirected.empty()) {
    RouteConfiguration routes = egressRoutes(redirected, true);
    auto egress = listener("egress", bind, names::kEgressPort, false);
    addHttpChain(egress, "egress", routes.name(), logging);
    out_.listeners.push_back(std::move(egress));
    out_.routes.push_back(std::move(routes));
  }
  return std::move(out_);
}

}  // namespace

std::string ProxyId::key() const {
  return "mesh/" + mesh + (gateway ? "/virtualGateway/" : "/virtualNode/") + name;
}

StatusOr<ProxyId> parseProxyId(const std::string& nodeId) {
  std::string id = nodeId;
  if (id.rfind("arn:", 0) == 0) {
    // arn:aws:appmesh:<region>:<account>:mesh/...
    size_t colons = 0, at = 0;
    while (colons < 5 && (at = id.find(':', at)) != std::string::npos) {
      ++colons;
      ++at;
    }
    if (colons < 5) return badRequest("node id '" + nodeId + "' is not an App Mesh ARN");
    id = id.substr(at);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = id.find('/', start);
    parts.push_back(id.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 4 || parts[0] != "mesh" || parts[1].empty() || parts[3].empty() ||
      (parts[2] != "virtualNode" && parts[2] != "virtualGateway")) {
    return badRequest("node id '" + nodeId +
                      "' must be mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name> or its ARN");
  }
  return ProxyId{parts[1], parts[2] == "virtualGateway", parts[3]};
}

StatusOr<Translation> translate(const World& world, const ProxyId& proxy, const ProxyInfo& info) {
  auto mesh = world.meshes.find(proxy.mesh);
  if (mesh == world.meshes.end()) return notFound("mesh " + proxy.mesh + " not found");
  Translator t(world, mesh->second, info);
  if (proxy.gateway) {
    auto it = mesh->second.virtualGateways.find(proxy.name);
    if (it == mesh->second.virtualGateways.end()) {
      return notFound("virtual gateway " + proxy.name + " not found in mesh " + proxy.mesh);
    }
    return t.gateway(proxy.name, it->second);
  }
  auto it = mesh->second.virtualNodes.find(proxy.name);
  if (it == mesh->second.virtualNodes.end()) {
    return notFound("virtual node " + proxy.name + " not found in mesh " + proxy.mesh);
  }
  return t.node(proxy.name, it->second);
}

}  // namespace meshd::xds
