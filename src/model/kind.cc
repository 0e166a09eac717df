#include "model/kind.h"

#include <cctype>

namespace meshd::model {

const Kind kMesh{"Mesh", "mesh", "meshName", "meshes"};
const Kind kVirtualNode{"VirtualNode", "virtualNode", "virtualNodeName", "virtualNodes"};
const Kind kVirtualService{"VirtualService", "virtualService", "virtualServiceName", "virtualServices"};
const Kind kVirtualRouter{"VirtualRouter", "virtualRouter", "virtualRouterName", "virtualRouters"};
const Kind kRoute{"Route", "route", "routeName", "routes", &kVirtualRouter};
const Kind kVirtualGateway{"VirtualGateway", "virtualGateway", "virtualGatewayName", "virtualGateways"};
const Kind kGatewayRoute{"GatewayRoute", "gatewayRoute", "gatewayRouteName", "gatewayRoutes",
                         &kVirtualGateway};

namespace {

using nlohmann::json;

const json* at(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* p : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(p);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string text(const json* j) { return j && j->is_string() ? j->get<std::string>() : ""; }

constexpr const char* kRouteTypes[] = {"httpRoute", "http2Route", "grpcRoute", "tcpRoute"};

}  // namespace

const std::vector<const Kind*>& allKinds() {
  static const std::vector<const Kind*> kAll = {&kMesh,          &kVirtualNode, &kVirtualService,
                                                &kVirtualRouter, &kRoute,       &kVirtualGateway,
                                                &kGatewayRoute};
  return kAll;
}

const Kind* kindByTitle(std::string_view title) {
  for (const Kind* k : allKinds()) {
    if (k->title == title) return k;
  }
  return nullptr;
}

const Kind* kindByName(std::string_view name) {
  for (const Kind* k : allKinds()) {
    if (k->name == name) return k;
  }
  return nullptr;
}

std::string ResourceId::describe() const {
  // "virtualRouter" -> "virtual router"
  auto words = [](std::string_view name) {
    std::string out;
    for (char c : name) {
      if (std::isupper(static_cast<unsigned char>(c))) out += ' ';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  std::string out = words(kind->name) + " " + name;
  if (kind->parent) out += " of " + words(kind->parent->name) + " " + parent;
  if (!kind->isMesh()) out += " in mesh " + mesh;
  return out;
}

std::string arnOf(const ResourceId& id, const std::string& region, const std::string& account) {
  std::string arn = "arn:aws:appmesh:" + region + ":" + account + ":mesh/" + id.mesh;
  if (id.kind->isMesh()) return arn;
  if (id.kind->parent) arn += "/" + std::string(id.kind->parent->name) + "/" + id.parent;
  return arn + "/" + std::string(id.kind->name) + "/" + id.name;
}

std::optional<ResourceId> parseArn(std::string_view arn, std::string* region, std::string* account) {
  constexpr std::string_view kPrefix = "arn:aws:appmesh:";
  if (arn.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  arn.remove_prefix(kPrefix.size());
  size_t c1 = arn.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  size_t c2 = arn.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  *region = std::string(arn.substr(0, c1));
  *account = std::string(arn.substr(c1 + 1, c2 - c1 - 1));
  std::vector<std::string> parts;
  std::string_view rest = arn.substr(c2 + 1);
  while (true) {
    size_t slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  for (const auto& p : parts) {
    if (p.empty()) return std::nullopt;
  }
  if (parts.size() < 2 || parts[0] != "mesh") return std::nullopt;
  ResourceId id{&kMesh, parts[1], "", parts[1]};
  if (parts.size() == 2) return id;
  if (parts.size() == 4) {
    const Kind* k = kindByName(parts[2]);
    if (!k || k->isMesh() || k->parent) return std::nullopt;
    return ResourceId{k, parts[1], "", parts[3]};
  }
  if (parts.size() == 6) {
    const Kind* k = kindByName(parts[4]);
    if (!k || !k->parent || k->parent->name != parts[2]) return std::nullopt;
    return ResourceId{k, parts[1], parts[3], parts[5]};
  }
  return std::nullopt;
}

std::vector<ResourceId> references(const ResourceId& id, const json& spec) {
  std::vector<ResourceId> refs;
  if (id.kind == &kVirtualService) {
    if (auto n = text(at(spec, {"provider", "virtualNode", "virtualNodeName"})); !n.empty()) {
      refs.push_back({&kVirtualNode, id.mesh, "", n});
    }
    if (auto n = text(at(spec, {"provider", "virtualRouter", "virtualRouterName"})); !n.empty()) {
      refs.push_back({&kVirtualRouter, id.mesh, "", n});
    }
  } else if (id.kind == &kRoute) {
    for (const char* type : kRouteTypes) {
      const json* targets = at(spec, {type, "action", "weightedTargets"});
      if (!targets || !targets->is_array()) continue;
      for (const json& t : *targets) {
        if (auto n = text(at(t, {"virtualNode"})); !n.empty()) refs.push_back({&kVirtualNode, id.mesh, "", n});
      }
    }
  } else if (id.kind == &kGatewayRoute) {
    for (const char* type : {"httpRoute", "http2Route", "grpcRoute"}) {
      auto n = text(at(spec, {type, "action", "target", "virtualService", "virtualServiceName"}));
      if (!n.empty()) refs.push_back({&kVirtualService, id.mesh, "", n});
    }
  }
  return refs;
}

Status checkSpec(const ResourceId& id, const json& spec) {
  if (id.kind == &kRoute || id.kind == &kGatewayRoute) {
    int n = 0;
    for (const char* type : kRouteTypes) {
      n += spec.contains(type) && (id.kind == &kRoute || std::string_view(type) != "tcpRoute");
    }
    if (n != 1) {
      return badRequest(id.kind == &kRoute
                            ? "spec: exactly one of httpRoute, http2Route, grpcRoute, tcpRoute must be set"
                            : "spec: exactly one of httpRoute, http2Route, grpcRoute must be set");
    }
  }
  return okStatus();
}

}  // namespace meshd::model
