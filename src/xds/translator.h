#pragma once
// The translator's internals (translate.h is its interface): the state of one proxy's translation
// and the steps it takes. translate.cc builds a node's or a gateway's resources;
// translate_services.cc says how a virtual service is reached (its node's or its router's
// clusters and routes); translate_egress.cc builds the egress listener and its ways out.
// Pure like translate(): no I/O.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/ip_preference.h"
#include "xds/translate.h"

namespace meshd::xds {

using envoy::config::route::v3::RouteConfiguration;
using envoy::config::route::v3::VirtualHost;
using nlohmann::json;

inline bool isHttpProtocol(const std::string& p) { return p == "http" || p == "http2" || p == "grpc"; }

// The route kind a listener of `protocol` serves.
inline std::string routeKindFor(const std::string& protocol) {
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
  // `httpPorts` (optional) gets the ports the services' HTTP listeners use.
  RouteConfiguration egressRoutes(const std::set<std::string>& services, bool byHeader,
                                  std::set<uint32_t>* httpPorts = nullptr);
  // TCP services have no Host to route by: one egress filter chain per destination port. Returns
  // the ports taken.
  std::set<uint32_t> addEgressTcpChains(envoy::config::listener::v3::Listener& egress,
                                        const std::set<std::string>& services, const json& logging);
  // The egress listener's HTTP chains and its ways out of the mesh (see the definition).
  void addEgressHttpAndExits(envoy::config::listener::v3::Listener& egress, RouteConfiguration& routes,
                             const std::set<uint32_t>& httpPorts, const std::set<uint32_t>& tcpPorts, bool allowAll,
                             const json& logging);
  // Where a TCP listener of a service's provider goes: (cluster, weight), and its tcpRoute's
  // timeout.idle (an App Mesh duration; null: none given).
  struct TcpTargets {
    std::vector<std::pair<std::string, uint32_t>> clusters;
    nlohmann::json idle;
  };
  // Port -> targets for each TCP listener of `vs`'s provider.
  std::map<uint32_t, TcpTargets> tcpTargets(const std::string& vs);
  bool routerProvided(const std::string& vs) const;

  const World& world_;
  const MeshResources& mesh_;
  const ProxyInfo& info_;
  Translation out_;
  std::set<std::string> clusters_;
};

}  // namespace meshd::xds
