#pragma once
// The translator: a pure function from the mesh (World) and one proxy's identity to the Envoy
// resources that proxy should run: listeners, route configurations, clusters and endpoints, named
// and shaped as App Mesh generated them, with the IP-preference semantics of model/ip_preference.h.
// No I/O, clock or globals: the same inputs always give the same output.

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/config/route/v3/route.pb.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "xds/resource_types.h"
#include "xds/snapshot.h"
#include "xds/world.h"

namespace meshd::xds {

// Which mesh resource a proxy stands for.
struct ProxyId {
  std::string mesh;
  bool gateway = false;  // a virtual gateway, else a virtual node
  std::string name;

  // mesh/<mesh>/virtualNode/<name> (or virtualGateway): the cache key and canonical node id.
  std::string key() const;
};

// Accepts mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name>, or their full ARNs.
StatusOr<ProxyId> parseProxyId(const std::string& nodeId);

// What the proxy told us about its host (node metadata).
struct ProxyInfo {
  bool hasIpv6 = true;
};

struct Translation {
  std::vector<envoy::config::listener::v3::Listener> listeners;
  std::vector<envoy::config::route::v3::RouteConfiguration> routes;
  std::vector<envoy::config::cluster::v3::Cluster> clusters;
  std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment> endpoints;
  // Where the configuration departs from what was asked (a degraded bind address, a backend that
  // does not exist, ...), for `meshctl status` and `meshctl diagnose`.
  std::vector<std::string> notes;
};

// NotFound when the proxy's mesh or resource does not exist.
StatusOr<Translation> translate(const World& world, const ProxyId& proxy, const ProxyInfo& info);

// The translation as a snapshot (resources packed once).
Snapshot toSnapshot(const Translation& t);

}  // namespace meshd::xds
