#pragma once
// What a connected proxy says about its upstream hosts, read from its admin endpoint (`/clusters`,
// Envoy's text format: `<cluster>::<host:port>::health_flags::<flags>`). `meshctl diagnose` uses the
// callers' active health-check verdicts to tell whether a target's app accepts the family its
// sidecar uses: that cannot be known from the mesh alone.

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meshd::xds {

struct HostHealth {
  std::string address;  // host:port as the proxy lists it
  std::string flags;    // "healthy", "/failed_active_hc", "/failed_active_hc/pending_active_hc", ...
};

// Cluster name -> its hosts.
using ClusterHealth = std::map<std::string, std::vector<HostHealth>>;

// Parses an admin /clusters body; lines other than health_flags are skipped.
ClusterHealth parseClusters(std::string_view text);

// GET http://<host>:<port>/clusters, bounded by `timeout`.
StatusOr<ClusterHealth> fetchClusterHealth(const std::string& host, uint32_t port, std::chrono::milliseconds timeout);

}  // namespace meshd::xds
