#include "xds/world.h"

#include <set>

#include "model/resource_key.h"

namespace meshd::xds {

using nlohmann::json;

StatusOr<World> loadWorld(store::Store& store) {
  World world;
  auto registry = discovery::loadRegistry(store);
  if (!registry.ok()) return registry.status();
  world.registry = std::move(*registry);
  world.revision = world.registry.revision;
  // Meshes and their contents share the "appmesh/" prefix; one ordered scan reads them all.
  std::set<std::string> declared;  // meshes whose own record was seen
  auto all = store::listAll(store, "appmesh/mesh");
  if (!all.ok()) return all.status();
  for (const store::KeyValue& kv : *all) {
    auto id = model::parseKey(kv.key);
    auto rec = model::Record::decode(kv.value);
    if (!id || !rec) continue;
    MeshResources& mesh = world.meshes[id->mesh];
    mesh.name = id->mesh;
    const json& spec = rec->data.contains("spec") ? rec->data["spec"] : json::object();
    const model::Kind* k = id->kind;
    if (k == &model::kMesh) {
      mesh.spec = spec;
      declared.insert(id->mesh);
    } else if (k == &model::kVirtualNode) mesh.virtualNodes[id->name] = spec;
    else if (k == &model::kVirtualService) mesh.virtualServices[id->name] = spec;
    else if (k == &model::kVirtualRouter) mesh.virtualRouters[id->name] = spec;
    else if (k == &model::kVirtualGateway) mesh.virtualGateways[id->name] = spec;
    else if (k == &model::kRoute) mesh.routes[id->parent][id->name] = spec;
    else if (k == &model::kGatewayRoute) mesh.gatewayRoutes[id->parent][id->name] = spec;
  }
  // A mesh's contents without the mesh itself (never left by the API) are dropped.
  std::erase_if(world.meshes, [&](const auto& m) { return !declared.count(m.first); });
  return world;
}

}  // namespace meshd::xds
