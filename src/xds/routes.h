#pragma once
// App Mesh routes (a virtual router's) and gateway routes (a virtual gateway's) as Envoy routes:
// matches, weighted targets, rewrites, retry policies and timeouts.

#include <envoy/config/route/v3/route_components.pb.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace meshd::xds {

// The egress cluster serving virtual node `node` (on `port`, or its first listener when 0); ""
// when the node does not exist.
using ClusterOf = std::function<std::string(const std::string& node, uint32_t port)>;

// Envoy's route for App Mesh route `name` with `spec` ("httpRoute"/"http2Route"/"grpcRoute" member
// chosen by the router listener's protocol); nullopt when it has no reachable target.
std::optional<envoy::config::route::v3::Route> meshRoute(const std::string& name, const nlohmann::json& spec,
                                                         const ClusterOf& clusterOf, std::vector<std::string>* notes);

// The action of a gateway route whose target is served by `clusters` (name, weight); the match,
// rewrites and host rewrite to `serviceName` follow App Mesh's defaults.
envoy::config::route::v3::Route gatewayRoute(const std::string& name, const nlohmann::json& spec,
                                             const std::string& serviceName,
                                             const std::vector<std::pair<std::string, uint32_t>>& clusters);

// gatewayRoute, and before it, when the default rewrite strips a prefix /p not ending in '/', the
// same route for /p/: App Mesh's pair, so that /p/x becomes /x.
std::vector<envoy::config::route::v3::Route> gatewayRoutes(const std::string& name, const nlohmann::json& spec,
                                                           const std::string& serviceName,
                                                           const std::vector<std::pair<std::string, uint32_t>>& clusters);

// App Mesh's order: priority (0 first, unset last), then name.
std::vector<std::pair<std::string, const nlohmann::json*>> byPriority(const std::map<std::string, nlohmann::json>& specs);

// The route kind member of a spec: httpRoute, http2Route, grpcRoute or tcpRoute ("" if none).
std::string routeKind(const nlohmann::json& spec);

}  // namespace meshd::xds
