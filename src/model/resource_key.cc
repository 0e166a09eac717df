#include "model/resource_key.h"

#include <vector>

#include "common/encoding.h"

namespace meshd::model {
namespace {

constexpr std::string_view kMeshesRoot = "appmesh/meshes/";
constexpr std::string_view kMeshRoot = "appmesh/mesh/";

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> parts;
  while (true) {
    size_t slash = s.find('/');
    parts.emplace_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    s.remove_prefix(slash + 1);
  }
}

}  // namespace

std::string meshContentsPrefix(const std::string& mesh) {
  return std::string(kMeshRoot) + percentEncode(mesh) + "/";
}

std::string kindPrefix(const Kind& kind, const std::string& mesh, const std::string& parent) {
  if (kind.isMesh()) return std::string(kMeshesRoot);
  std::string p = meshContentsPrefix(mesh) + std::string(kind.name) + "/";
  if (kind.parent) p += percentEncode(parent) + "/";
  return p;
}

std::string keyOf(const ResourceId& id) {
  return kindPrefix(*id.kind, id.mesh, id.parent) + percentEncode(id.name);
}

std::optional<ResourceId> parseKey(const std::string& key) {
  std::string_view k = key;
  if (k.substr(0, kMeshesRoot.size()) == kMeshesRoot) {
    auto mesh = percentDecode(k.substr(kMeshesRoot.size()));
    if (!mesh || mesh->empty()) return std::nullopt;
    return ResourceId{&kMesh, *mesh, "", *mesh};
  }
  if (k.substr(0, kMeshRoot.size()) != kMeshRoot) return std::nullopt;
  auto parts = split(k.substr(kMeshRoot.size()));
  if (parts.size() < 3) return std::nullopt;
  const Kind* kind = kindByName(parts[1]);
  if (!kind || kind->isMesh() || parts.size() != (kind->parent ? 4u : 3u)) return std::nullopt;
  std::vector<std::string> decoded;
  for (const auto& p : parts) {
    auto d = percentDecode(p);
    if (!d) return std::nullopt;
    decoded.push_back(*d);
  }
  if (kind->parent) return ResourceId{kind, decoded[0], decoded[2], decoded[3]};
  return ResourceId{kind, decoded[0], "", decoded[2]};
}

std::string Record::encode() const { return nlohmann::json{{"data", data}, {"tags", tags}}.dump(); }

std::optional<Record> Record::decode(const std::string& value) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("data")) return std::nullopt;
  return Record{j["data"], j.value("tags", nlohmann::json::array())};
}

}  // namespace meshd::model
