#pragma once
// Everything the translator reads, at one store revision: every mesh's resources (their specs) and
// the Cloud Map registry. A plain value; loadWorld() is the only part that touches the store.

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "discovery/registry.h"
#include "store/store.h"

namespace meshd::xds {

struct MeshResources {
  std::string name;
  nlohmann::json spec = nlohmann::json::object();
  // name -> spec
  std::map<std::string, nlohmann::json> virtualNodes, virtualServices, virtualRouters, virtualGateways;
  // parent (router / gateway) -> name -> spec
  std::map<std::string, std::map<std::string, nlohmann::json>> routes, gatewayRoutes;
};

struct World {
  store::Revision revision = 0;
  std::map<std::string, MeshResources> meshes;
  discovery::RegistrySnapshot registry;
};

StatusOr<World> loadWorld(store::Store& store);

}  // namespace meshd::xds
