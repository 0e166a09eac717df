// How a caller reaches a virtual service: its provider node's clusters, or its router's routes.
#include "xds/translator.h"

#include "xds/builders.h"
#include "xds/clusters.h"
#include "xds/listeners.h"
#include "xds/names.h"
#include "xds/routes.h"

namespace meshd::xds {

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

std::map<uint32_t, Translator::TcpTargets> Translator::tcpTargets(const std::string& vs) {
  std::map<uint32_t, TcpTargets> out;
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
      if (std::string c = clusterOf(node, pm.port); !c.empty()) out[pm.port].clusters = {{c, 100}};
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
      if (!targets.empty()) {
        out[pm.port].clusters = std::move(targets);
        const json& timeout = tcp.value("timeout", json::object());
        if (timeout.contains("idle")) out[pm.port].idle = timeout["idle"];
      }
      break;
    }
  }
  return out;
}

}  // namespace meshd::xds
