#pragma once
// The xDS type URLs meshproxy subscribes to, and the filter names it understands (Envoy's).

namespace meshd::proxy {

inline constexpr const char* kClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr const char* kEndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr const char* kListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr const char* kRouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

inline constexpr const char* kHttpConnectionManager = "envoy.filters.network.http_connection_manager";
inline constexpr const char* kTcpProxy = "envoy.filters.network.tcp_proxy";
inline constexpr const char* kOriginalDst = "envoy.filters.listener.original_dst";
inline constexpr const char* kTlsInspector = "envoy.filters.listener.tls_inspector";

}  // namespace meshd::proxy
