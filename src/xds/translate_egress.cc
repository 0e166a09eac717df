// The egress listener: virtual hosts per backend, TCP chains by destination port, and the ways out
// of the mesh (AWS services always; everything else with ALLOW_ALL).
#include "xds/translator.h"

#include "xds/builders.h"
#include "xds/clusters.h"
#include "xds/listeners.h"
#include "xds/names.h"
#include "xds/routes.h"

namespace meshd::xds {

RouteConfiguration Translator::egressRoutes(const std::set<std::string>& services, bool byHeader,
                                            std::set<uint32_t>* httpPorts) {
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
    if (httpPorts) httpPorts->insert(ports.begin(), ports.end());
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

std::set<uint32_t> Translator::addEgressTcpChains(envoy::config::listener::v3::Listener& egress,
                                                  const std::set<std::string>& services, const json& logging) {
  std::map<uint32_t, std::string> taken;  // port -> the service that has it
  for (const std::string& vs : services) {
    for (const auto& [port, targets] : tcpTargets(vs)) {
      if (auto [at, fresh] = taken.emplace(port, vs); !fresh) {
        out_.notes.push_back("backend: TCP port " + std::to_string(port) + " of " + vs + " is already " + at->second +
                             "'s; TCP is routed by destination port only");
        continue;
      }
      addTcpChain(egress, "egress", targets.clusters, logging, port);
      if (!targets.idle.is_null()) setTcpIdleTimeout(egress, duration(targets.idle));
    }
  }
  std::set<uint32_t> ports;
  for (const auto& [port, _] : taken) ports.insert(port);
  return ports;
}

// What leaves the mesh. TLS to AWS services (SNI *.amazonaws.com) always passes through to where
// the app meant it to go, as App Mesh let it whatever the egress filter. ALLOW_ALL passes everything
// else through too; HTTP is told from other TCP by destination port: the HTTP backends' ports, and
// the listener's own, which a connection made to it directly (not redirected) has, and which would
// otherwise pass through to the listener itself. The chain without criteria then takes raw TCP and
// TLS to anywhere else, and HTTP whose Host names no service goes to a catch-all virtual host.
// With DROP_ALL, HTTP stays the fallback chain: HTTP without a route gets Envoy's 404, and other
// traffic fails to parse as HTTP and is closed.
void Translator::addEgressHttpAndExits(envoy::config::listener::v3::Listener& egress, RouteConfiguration& routes,
                                       const std::set<uint32_t>& httpPorts, const std::set<uint32_t>& tcpPorts,
                                       bool allowAll, const json& logging) {
  if (allowAll) {
    std::set<uint32_t> ports = httpPorts;
    ports.insert(names::kEgressPort);
    for (uint32_t p : ports) {
      if (tcpPorts.count(p)) {
        out_.notes.push_back("backend: HTTP port " + std::to_string(p) + " is also a TCP backend's; TCP has it");
        continue;
      }
      addHttpChain(egress, "egress", routes.name(), logging, p);
    }
  } else {
    addHttpChain(egress, "egress", routes.name(), logging);
  }
  std::string aws = names::meshCluster(mesh_.name, names::kAmazonAwsCluster);
  addTcpChain(egress, "egress", aws, logging, ChainMatch{0, {names::kAmazonAwsServerName}, "tls"});
  out_.clusters.push_back(originalDstCluster(aws));
  if (!allowAll) return;
  std::string passthrough = names::meshCluster(mesh_.name, names::kAllowAllCluster);
  addTcpChain(egress, "egress", passthrough, logging, ChainMatch{});
  out_.clusters.push_back(originalDstCluster(passthrough));
  VirtualHost* vh = routes.add_virtual_hosts();  // Envoy prefers any named domain to "*"
  vh->set_name(names::kAllowAllCluster);
  vh->add_domains("*");
  auto* r = vh->add_routes();
  r->mutable_match()->set_prefix("/");
  r->mutable_route()->set_cluster(passthrough);
}

}  // namespace meshd::xds
