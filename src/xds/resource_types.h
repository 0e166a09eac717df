#pragma once
// xDS vocabulary: the type URLs meshd serves, in the order changes must reach a proxy
// ("make before break": clusters, then their endpoints, then listeners, then routes).

#include <array>
#include <string_view>

namespace meshd::xds {

inline constexpr std::string_view kClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr std::string_view kEndpointType =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr std::string_view kListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr std::string_view kRouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

inline constexpr std::array<std::string_view, 4> kPushOrder = {kClusterType, kEndpointType, kListenerType,
                                                               kRouteType};

// Listener and Cluster are state-of-the-world: a response carries every resource and a missing
// one is a deletion. Endpoints and routes are sent per requested name.
inline bool isStateOfTheWorld(std::string_view typeUrl) {
  return typeUrl == kClusterType || typeUrl == kListenerType;
}

}  // namespace meshd::xds
