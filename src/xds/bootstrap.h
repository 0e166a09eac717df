#pragma once
// The Envoy v3 bootstrap for a sidecar or gateway, from the App Mesh Envoy image's environment:
//   APPMESH_RESOURCE_ARN          the proxy's resource (ARN or mesh/<m>/virtualNode/<n>)
//   APPMESH_VIRTUAL_NODE_NAME     the older form: mesh/<mesh>/virtualNode/<name>
//   APPMESH_XDS_ENDPOINT          host:port of meshd's ADS server
//   ENVOY_ADMIN_ACCESS_PORT       admin port (9901)
//   ENVOY_ADMIN_ACCESS_ENABLE_IPV6  "true": admin binds :: instead of 0.0.0.0
//   MESHD_DNS_RESOLVER            host:port of the DNS server clusters resolve with (optional)
//   MESHD_IPV6_AVAILABLE          "false": tell meshd the host has no IPv6 (node metadata)
//   ENABLE_ENVOY_DOG_STATSD       a DogStatsD sink, to STATSD_SOCKET_PATH (a Unix datagram socket)
//                                 or else UDP to STATSD_ADDRESS (127.0.0.1):STATSD_PORT (8125)
//   ENABLE_ENVOY_STATS_TAGS       stats tagged appmesh.mesh and appmesh.virtual_node (or _gateway)
//   ENVOY_STATS_FLUSH_INTERVAL    how often sinks get the stats, a Go duration (5s)
// The switches are Go booleans (1, t, true, 0, f, false, ...), as the App Mesh image's agent reads
// them, which also always adds its listener stats tags. ENVOY_STATS_CONFIG_FILE and
// ENVOY_STATS_SINKS_CFG_FILE (files merged into the bootstrap) are refused.
// A pure function of the variables given; real Envoy and meshproxy start from the same file.

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>

#include <map>
#include <string>

#include "common/status.h"

namespace meshd::xds {

// Node metadata key carrying whether the proxy's host has IPv6.
inline constexpr const char* kIpv6AvailableKey = "meshd.ipv6_available";
// Node metadata key carrying the proxy's admin port, so that meshd (diagnose) can read the proxy's
// health-check verdicts at <the stream's peer address>:<port>.
inline constexpr const char* kAdminPortKey = "meshd.admin_port";
inline constexpr const char* kXdsClusterName = "meshd_xds";

StatusOr<envoy::config::bootstrap::v3::Bootstrap> makeBootstrap(const std::map<std::string, std::string>& env);

// The bootstrap as Envoy JSON.
std::string bootstrapJson(const envoy::config::bootstrap::v3::Bootstrap& b);

}  // namespace meshd::xds
