#pragma once
// The seven App Mesh resource kinds, described as data: their names on the wire, where they live
// (routes under a virtual router, gateway routes under a virtual gateway) and what they reference.
// The API layer serves all of them with one piece of code driven by this table.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meshd::model {

struct Kind {
  std::string_view title;      // "VirtualNode": the operation suffix (CreateVirtualNode)
  std::string_view name;       // "virtualNode": ARN segment and payload member
  std::string_view nameField;  // "virtualNodeName"
  std::string_view listField;  // "virtualNodes": the list operation's result member
  const Kind* parent = nullptr;  // virtualRouter for routes, virtualGateway for gateway routes

  bool isMesh() const { return name == "mesh"; }
};

// All kinds, meshes first, parents before children.
const std::vector<const Kind*>& allKinds();
const Kind* kindByTitle(std::string_view title);
const Kind* kindByName(std::string_view name);

extern const Kind kMesh, kVirtualNode, kVirtualService, kVirtualRouter, kRoute, kVirtualGateway,
    kGatewayRoute;

// Identifies one resource: its kind, mesh, parent (router/gateway, when the kind has one) and name.
struct ResourceId {
  const Kind* kind = nullptr;
  std::string mesh;
  std::string parent;
  std::string name;

  bool operator==(const ResourceId& o) const {
    return kind == o.kind && mesh == o.mesh && parent == o.parent && name == o.name;
  }
  // "virtual node colorteller-red-vn in mesh m", for messages.
  std::string describe() const;
};

// arn:aws:appmesh:<region>:<account>:mesh/<mesh>[/virtualRouter/<vr>]/<kind>/<name>
std::string arnOf(const ResourceId& id, const std::string& region, const std::string& account);
// Parses an App Mesh ARN; region and account are returned through the out-parameters.
std::optional<ResourceId> parseArn(std::string_view arn, std::string* region, std::string* account);

// Resources that must exist for `spec` of `id` to be accepted (a service's provider, a route's
// targets, a gateway route's target service).
std::vector<ResourceId> references(const ResourceId& id, const nlohmann::json& spec);

// Rules of the API that its schema does not express (a route has exactly one protocol, ...).
Status checkSpec(const ResourceId& id, const nlohmann::json& spec);

}  // namespace meshd::model
