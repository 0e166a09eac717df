#pragma once
// Clusters: the local app behind a virtual node's listener (ingress), and a target virtual node's
// listener as its callers see it (egress), with the target's discovery, IP preference, health
// check and outlier detection.

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/endpoint/v3/endpoint.pb.h>

#include <optional>
#include <string>
#include <vector>

#include "xds/world.h"

namespace meshd::xds {

// protocol and port of a listener's portMapping.
struct PortMapping {
  std::string protocol;
  uint32_t port = 0;
};
PortMapping portMappingOf(const nlohmann::json& listener);

envoy::config::cluster::v3::Cluster localAppCluster(const MeshResources& mesh, const std::string& node,
                                                    const nlohmann::json& nodeSpec, const nlohmann::json& listener);

// A gateway's route to a router-provided service goes through the gateway's own egress listener,
// where the router's routes apply in full, as App Mesh did:
// cds_ingress_<mesh>_<gateway>_self_redirect_<protocol>_15001 (with the gateway's listener port
// after self_redirect_ when it has several).
envoy::config::cluster::v3::Cluster selfRedirectCluster(const MeshResources& mesh, const std::string& gateway,
                                                        const std::string& protocol, uint32_t listenerPort,
                                                        bool severalListeners);

// An ORIGINAL_DST cluster named `name`: each connection goes to where the app meant it to go
// (the destination iptables redirected to the egress listener), for traffic leaving the mesh.
envoy::config::cluster::v3::Cluster originalDstCluster(const std::string& name);

// The egress cluster for `target`'s `listener`; for Cloud Map targets, `endpoints` gets its
// ClusterLoadAssignment. Notes say when a target cannot be reached (no discovery, no address).
envoy::config::cluster::v3::Cluster egressCluster(const MeshResources& mesh, const std::string& target,
                                                  const nlohmann::json& targetSpec, const nlohmann::json& listener,
                                                  const discovery::RegistrySnapshot& registry,
                                                  std::optional<envoy::config::endpoint::v3::ClusterLoadAssignment>* endpoints,
                                                  std::vector<std::string>* notes);

}  // namespace meshd::xds
