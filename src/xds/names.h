#pragma once
// The names App Mesh gave the Envoy resources it generated; kept so dashboards, log queries and
// habits built on them keep working.

#include <cstdint>
#include <string>

namespace meshd::xds::names {

inline std::string listener(const std::string& direction, const std::string& address, uint32_t port) {
  return "lds_" + direction + "_" + address + "_" + std::to_string(port);
}
inline std::string routeConfig(const std::string& direction, const std::string& protocol, uint32_t port) {
  return "rds_" + direction + "_" + protocol + "_" + std::to_string(port);
}
inline std::string cluster(const std::string& direction, const std::string& mesh, const std::string& node,
                           const std::string& protocol, uint32_t port) {
  return "cds_" + direction + "_" + mesh + "_" + node + "_" + protocol + "_" + std::to_string(port);
}

// A mesh-wide egress cluster: cds_egress_<mesh>_<what>. App Mesh's were `amazonaws` (AWS services,
// always reachable) and `mesh-allow-all` (ALLOW_ALL's passthrough to the original destination, as
// App Mesh's own config dumps show it).
inline std::string meshCluster(const std::string& mesh, const std::string& what) {
  return "cds_egress_" + mesh + "_" + what;
}
inline constexpr const char* kAmazonAwsCluster = "amazonaws";
inline constexpr const char* kAllowAllCluster = "mesh-allow-all";
inline constexpr const char* kAmazonAwsServerName = "*.amazonaws.com";

// Names the virtual service of a gateway's self-redirected request whose Host was kept.
inline constexpr const char* kVirtualServiceHeader = "x-app-mesh-virtual-service";

inline constexpr uint32_t kIngressPort = 15000;
inline constexpr uint32_t kEgressPort = 15001;

}  // namespace meshd::xds::names
