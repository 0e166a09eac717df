#pragma once
// Where App Mesh resources live in the store, and how they are stored. Shared by the API (which
// writes them) and the xDS layer (which follows the store's changes and reads them back).
//
//   appmesh/meshes/<mesh>                          a mesh
//   appmesh/mesh/<mesh>/<kind>/<name>              virtual node, service, router, gateway
//   appmesh/mesh/<mesh>/<kind>/<parent>/<name>     route, gateway route
// Names are percent-encoded so that '/' in a name cannot be confused with a separator.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "model/kind.h"

namespace meshd::model {

std::string keyOf(const ResourceId& id);
std::optional<ResourceId> parseKey(const std::string& key);

// Every resource of a mesh (not the mesh itself).
std::string meshContentsPrefix(const std::string& mesh);
// Resources of one kind: meshes; or of `kind` in `mesh` (under `parent` for routes).
std::string kindPrefix(const Kind& kind, const std::string& mesh = "", const std::string& parent = "");

// The stored form of a resource: the API's resource object plus what is not part of it.
struct Record {
  nlohmann::json data;                           // {meshName, <kind>Name, spec, metadata, status}
  nlohmann::json tags = nlohmann::json::array();  // [{key, value}]

  std::string encode() const;
  static std::optional<Record> decode(const std::string& value);
};

}  // namespace meshd::model
