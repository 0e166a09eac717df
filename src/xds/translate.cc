#include "xds/translate.h"

#include <set>

#include "model/ip_preference.h"
#include "xds/builders.h"
#include "xds/clusters.h"
#include "xds/listeners.h"
#include "xds/names.h"
#include "xds/routes.h"
#include "xds/translator.h"

namespace meshd::xds {

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
        const json timeout = l.value("timeout", json::object()).value("tcp", json::object());
        if (timeout.contains("idle")) setTcpIdleTimeout(ingress, duration(timeout["idle"]));
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
  bool allowAll = mesh_.spec.value("egressFilter", json::object()).value("type", "DROP_ALL") == "ALLOW_ALL";
  if (allowAll) {
    for (const auto& [vs, _] : mesh_.virtualServices) backends.insert(vs);
  }
  std::set<uint32_t> httpPorts;
  RouteConfiguration routes = egressRoutes(backends, false, &httpPorts);
  auto egress = listener("egress", bind, names::kEgressPort, true);
  addTlsInspector(egress);
  std::set<uint32_t> tcpPorts = addEgressTcpChains(egress, backends, logging);
  addEgressHttpAndExits(egress, routes, httpPorts, tcpPorts, allowAll, logging);
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
