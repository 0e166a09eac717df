#include "api/appmesh_service.h"

#include <chrono>
#include <cmath>

#include "common/encoding.h"

namespace meshd::api {

using model::Kind;
using model::Record;
using model::ResourceId;
using nlohmann::json;

namespace {

constexpr const char* kTokenPrefix = "appmesh/tokens/";
constexpr size_t kMaxTags = 50;
constexpr int64_t kDefaultPageSize = 100;

std::string capitalized(std::string_view s) {
  std::string out(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// A page of `items` starting at `offset`, for in-memory lists such as tags.
std::string offsetToken(size_t offset) { return base64UrlEncode("offset:" + std::to_string(offset)); }

std::optional<size_t> offsetFromToken(const std::string& token) {
  auto raw = base64UrlDecode(token);
  if (!raw || raw->rfind("offset:", 0) != 0) return std::nullopt;
  try {
    return static_cast<size_t>(std::stoull(raw->substr(7)));
  } catch (...) {
    return std::nullopt;
  }
}

// Adds `added` to `tags`; a key already present takes the new value.
void mergeTags(json& tags, const json& added) {
  for (const json& tag : added) {
    auto same = std::find_if(tags.begin(), tags.end(), [&](const json& t) { return t["key"] == tag["key"]; });
    if (same != tags.end()) tags.erase(same);
    tags.push_back({{"key", tag["key"]}, {"value", tag.value("value", "")}});
  }
}

}  // namespace

Status Quotas::set(const std::string& assignment) {
  size_t eq = assignment.find('=');
  std::string name = assignment.substr(0, eq);
  if (eq == std::string::npos || !limits.count(name)) {
    std::string names;
    for (const auto& [n, _] : limits) names += (names.empty() ? "" : ", ") + n;
    return badRequest("unknown quota '" + name + "' (known: " + names + ")");
  }
  try {
    size_t used = 0;
    int64_t v = std::stoll(assignment.substr(eq + 1), &used);
    if (used != assignment.size() - eq - 1 || v < 0) throw std::invalid_argument("negative");
    limits[name] = v;
  } catch (...) {
    return badRequest("quota " + name + " needs a non-negative integer");
  }
  return okStatus();
}

AppMeshService::AppMeshService(store::Store& store, AppMeshConfig config)
    : store_(store), config_(std::move(config)) {}

double AppMeshService::now() const {
  if (config_.now) return config_.now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ms.count()) / 1000.0;
}

StatusOr<json> AppMeshService::call(const model::Operation& op, const json& input) {
  if (op.name == "TagResource") return tagResource(input);
  if (op.name == "UntagResource") return untagResource(input);
  if (op.name == "ListTagsForResource") return listTags(input);
  for (const Kind* kind : model::allKinds()) {
    std::string title(kind->title);
    if (op.name == "Create" + title) return create(*kind, op.name, input);
    if (op.name == "Describe" + title) return describe(idFrom(*kind, input));
    if (op.name == "Update" + title) return update(*kind, op.name, input);
    if (op.name == "Delete" + title) {
      MESHD_RETURN_IF_ERROR(checkOwner(input));
      return remove(idFrom(*kind, input));
    }
    if (op.name == "List" + capitalized(kind->listField)) return list(*kind, input);
  }
  return internalError("operation " + op.name + " is not implemented");
}

ResourceId AppMeshService::idFrom(const Kind& kind, const json& input) const {
  ResourceId id{&kind, input.value("meshName", ""), "", ""};
  if (kind.parent) id.parent = input.value(std::string(kind.parent->nameField), "");
  id.name = kind.isMesh() ? id.mesh : input.value(std::string(kind.nameField), "");
  return id;
}

Status AppMeshService::checkOwner(const json& input) const {
  std::string owner = input.value("meshOwner", config_.account);
  if (owner != config_.account) {
    return notFound("mesh " + input.value("meshName", "") + " of account " + owner + " is not shared with " +
                    config_.account);
  }
  return okStatus();
}

StatusOr<std::optional<Record>> AppMeshService::load(const ResourceId& id) {
  auto kv = store_.get(model::keyOf(id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::optional<Record>{};
  auto rec = Record::decode((*kv)->value);
  if (!rec) return internalError("stored " + id.describe() + " is unreadable");
  return std::optional<Record>{std::move(*rec)};
}

StatusOr<store::KeyValue> AppMeshService::loadExisting(const ResourceId& id) {
  auto kv = store_.get(model::keyOf(id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return notFound(id.describe() + " not found");
  return std::move(**kv);
}

Status AppMeshService::checkParentsExist(const ResourceId& id) {
  if (id.kind->isMesh()) return okStatus();
  auto mesh = store_.get(model::keyOf({&model::kMesh, id.mesh, "", id.mesh}));
  if (!mesh.ok()) return mesh.status();
  if (!mesh->has_value()) return notFound("mesh " + id.mesh + " not found");
  if (id.kind->parent) {
    auto parent = loadExisting({id.kind->parent, id.mesh, "", id.parent});
    if (!parent.ok()) return parent.status();
  }
  return okStatus();
}

Status AppMeshService::checkReferencesExist(const ResourceId& id, const json& spec) {
  for (const ResourceId& ref : model::references(id, spec)) {
    auto kv = loadExisting(ref);
    if (!kv.ok()) return kv.status();
  }
  return okStatus();
}

Status AppMeshService::checkNotInUse(const ResourceId& id) {
  if (id.kind->isMesh()) {
    auto n = store_.count(model::meshContentsPrefix(id.mesh));
    if (!n.ok()) return n.status();
    if (*n > 0) return resourceInUse("mesh " + id.mesh + " still contains " + std::to_string(*n) + " resources");
    return okStatus();
  }
  for (const Kind* child : {&model::kRoute, &model::kGatewayRoute}) {
    if (child->parent != id.kind) continue;
    auto n = store_.count(model::kindPrefix(*child, id.mesh, id.name));
    if (!n.ok()) return n.status();
    if (*n > 0) return resourceInUse(id.describe() + " still has " + std::to_string(*n) + " " + std::string(child->listField));
  }
  // Kinds whose specs can name `id`; routes and gateway routes are listed across all parents.
  for (const Kind* referrer : {&model::kVirtualService, &model::kRoute, &model::kGatewayRoute}) {
    auto all = store::listAll(store_, model::meshContentsPrefix(id.mesh) + std::string(referrer->name) + "/");
    if (!all.ok()) return all.status();
    for (const store::KeyValue& kv : *all) {
      auto rid = model::parseKey(kv.key);
      auto rec = Record::decode(kv.value);
      if (!rid || !rec) continue;
      for (const ResourceId& ref : model::references(*rid, rec->data.value("spec", json::object()))) {
        if (ref == id) return resourceInUse(id.describe() + " is in use by " + rid->describe());
      }
    }
  }
  return okStatus();
}

Status AppMeshService::checkQuotas(const ResourceId& id) {
  auto n = store_.count(model::kindPrefix(*id.kind, id.mesh, id.parent));
  if (!n.ok()) return n.status();
  int64_t limit = config_.quotas.of(*id.kind);
  if (static_cast<int64_t>(*n) >= limit) {
    std::string scope(id.kind->isMesh() ? "account" : id.kind->parent ? id.kind->parent->name : "mesh");
    return limitExceeded("cannot create " + id.describe() + ": the " + scope + " already has the maximum of " +
                         std::to_string(limit) + " " + std::string(id.kind->listField));
  }
  return okStatus();
}

Status AppMeshService::checkBackends(const json& spec) const {
  int64_t limit = config_.quotas.limits.at("backends");
  if (spec.contains("backends") && static_cast<int64_t>(spec["backends"].size()) > limit) {
    return limitExceeded("spec.backends: a virtual node can have at most " + std::to_string(limit) + " backends");
  }
  return okStatus();
}

StatusOr<std::optional<json>> AppMeshService::replay(const std::string& op, const ResourceId& id,
                                                     const json& input, std::string* tokenKey,
                                                     std::string* tokenValue) {
  std::string token = input.value("clientToken", "");
  if (token.empty()) return std::optional<json>{};
  json request = input;
  request.erase("clientToken");
  std::string hash = fingerprint(request.dump());
  *tokenKey = kTokenPrefix + percentEncode(token);
  *tokenValue = json{{"op", op}, {"key", model::keyOf(id)}, {"hash", hash}, {"createdAt", now()}}.dump();
  auto kv = store_.get(*tokenKey);
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::optional<json>{};
  json seen = json::parse((*kv)->value, nullptr, false);
  if (seen.value("op", "") != op || seen.value("key", "") != model::keyOf(id) || seen.value("hash", "") != hash) {
    return conflict("clientToken " + token + " was already used for a different request");
  }
  auto rec = load(id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) return std::optional<json>{};  // deleted since: treat as a new request
  tokenKey->clear();  // already recorded
  return std::optional<json>{json{{std::string(id.kind->name), (*rec)->data}}};
}

StatusOr<json> AppMeshService::create(const Kind& kind, const std::string& op, const json& input) {
  MESHD_RETURN_IF_ERROR(checkOwner(input));
  ResourceId id = idFrom(kind, input);
  json spec = input.value("spec", json::object());
  if (kind.isMesh() && !spec.contains("egressFilter")) spec["egressFilter"] = {{"type", "DROP_ALL"}};
  MESHD_RETURN_IF_ERROR(model::checkSpec(id, spec));

  std::lock_guard lock(writeMu_);
  std::string tokenKey, tokenValue;
  auto replayed = replay(op, id, input, &tokenKey, &tokenValue);
  if (!replayed.ok()) return replayed.status();
  if (replayed->has_value()) return **replayed;
  MESHD_RETURN_IF_ERROR(checkParentsExist(id));
  auto existing = load(id);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return conflict(id.describe() + " already exists");
  MESHD_RETURN_IF_ERROR(checkReferencesExist(id, spec));
  MESHD_RETURN_IF_ERROR(checkQuotas(id));
  MESHD_RETURN_IF_ERROR(checkBackends(spec));

  double t = now();
  json data = {{"meshName", id.mesh}, {"spec", spec}, {"status", {{"status", "ACTIVE"}}}};
  if (kind.parent) data[std::string(kind.parent->nameField)] = id.parent;
  if (!kind.isMesh()) data[std::string(kind.nameField)] = id.name;
  data["metadata"] = {{"arn", model::arnOf(id, config_.region, config_.account)},
                      {"uid", uuid4()},
                      {"version", 1},
                      {"createdAt", t},
                      {"lastUpdatedAt", t},
                      {"meshOwner", config_.account},
                      {"resourceOwner", config_.account}};
  Record rec{data, json::array()};
  mergeTags(rec.tags, input.value("tags", json::array()));
  store::Txn txn{{{model::keyOf(id), 0}}, {{store::Op::Type::kPut, model::keyOf(id), rec.encode()}}};
  if (!tokenKey.empty()) txn.ops.push_back({store::Op::Type::kPut, tokenKey, tokenValue});
  auto result = store_.commit(txn);
  if (!result.ok()) return result.status();
  if (!result->succeeded) return conflict(id.describe() + " already exists");
  return json{{std::string(kind.name), data}};
}

StatusOr<json> AppMeshService::describe(const ResourceId& id) {
  auto rec = load(id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) return notFound(id.describe() + " not found");
  return json{{std::string(id.kind->name), (*rec)->data}};
}

StatusOr<json> AppMeshService::update(const Kind& kind, const std::string& op, const json& input) {
  MESHD_RETURN_IF_ERROR(checkOwner(input));
  ResourceId id = idFrom(kind, input);
  std::lock_guard lock(writeMu_);
  std::string tokenKey, tokenValue;
  auto replayed = replay(op, id, input, &tokenKey, &tokenValue);
  if (!replayed.ok()) return replayed.status();
  if (replayed->has_value()) return **replayed;
  auto kv = loadExisting(id);
  if (!kv.ok()) return kv.status();
  auto rec = Record::decode(kv->value);
  if (!rec) return internalError("stored " + id.describe() + " is unreadable");

  json spec = input.contains("spec") ? input["spec"] : rec->data["spec"];
  if (kind.isMesh() && !spec.contains("egressFilter")) spec["egressFilter"] = {{"type", "DROP_ALL"}};
  MESHD_RETURN_IF_ERROR(model::checkSpec(id, spec));
  MESHD_RETURN_IF_ERROR(checkReferencesExist(id, spec));
  MESHD_RETURN_IF_ERROR(checkBackends(spec));
  json& meta = rec->data["metadata"];
  rec->data["spec"] = spec;
  meta["version"] = meta.value("version", 1) + 1;
  meta["lastUpdatedAt"] = now();
  store::Txn txn{{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, rec->encode()}}};
  if (!tokenKey.empty()) txn.ops.push_back({store::Op::Type::kPut, tokenKey, tokenValue});
  auto result = store_.commit(txn);
  if (!result.ok()) return result.status();
  if (!result->succeeded) return conflict(id.describe() + " changed concurrently; retry");
  return json{{std::string(kind.name), rec->data}};
}

StatusOr<json> AppMeshService::remove(const ResourceId& id) {
  std::lock_guard lock(writeMu_);
  auto kv = loadExisting(id);
  if (!kv.ok()) return kv.status();
  auto rec = Record::decode(kv->value);
  if (!rec) return internalError("stored " + id.describe() + " is unreadable");
  MESHD_RETURN_IF_ERROR(checkNotInUse(id));
  auto result = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kDelete, kv->key, ""}}});
  if (!result.ok()) return result.status();
  if (!result->succeeded) return conflict(id.describe() + " changed concurrently; retry");
  rec->data["status"] = {{"status", "DELETED"}};
  return json{{std::string(id.kind->name), rec->data}};
}

json AppMeshService::refOf(const Kind& kind, const json& data) const {
  const model::Shape* shape = model::ServiceModel::appMesh().shape(std::string(kind.title) + "Ref");
  json ref = json::object();
  const json& meta = data["metadata"];
  for (const model::Member& m : shape->members) {
    if (data.contains(m.name)) {
      ref[m.name] = data[m.name];
    } else if (meta.contains(m.name)) {
      ref[m.name] = meta[m.name];
    }
  }
  return ref;
}

StatusOr<json> AppMeshService::list(const Kind& kind, const json& input) {
  MESHD_RETURN_IF_ERROR(checkOwner(input));
  ResourceId scope = idFrom(kind, input);
  MESHD_RETURN_IF_ERROR(checkParentsExist(scope));
  std::string prefix = model::kindPrefix(kind, scope.mesh, scope.parent);
  int64_t limit = input.value("limit", kDefaultPageSize);
  std::string after;
  if (input.contains("nextToken")) {
    auto key = base64UrlDecode(input["nextToken"].get<std::string>());
    if (!key || key->rfind(prefix, 0) != 0) return badRequest("nextToken: not a token of this list");
    after = *key;
  }
  auto page = store_.list(prefix, after, static_cast<size_t>(limit) + 1);
  if (!page.ok()) return page.status();
  json items = json::array();
  for (size_t i = 0; i < page->size() && i < static_cast<size_t>(limit); ++i) {
    auto rec = Record::decode((*page)[i].value);
    if (rec) items.push_back(refOf(kind, rec->data));
  }
  json out = {{std::string(kind.listField), items}};
  if (page->size() > static_cast<size_t>(limit)) out["nextToken"] = base64UrlEncode((*page)[limit - 1].key);
  return out;
}

StatusOr<ResourceId> AppMeshService::resolveArn(const std::string& arn) const {
  std::string region, account;
  auto id = model::parseArn(arn, &region, &account);
  if (!id || region != config_.region || account != config_.account) {
    return notFound("no App Mesh resource has the ARN " + arn);
  }
  return *id;
}

StatusOr<json> AppMeshService::editTags(const std::string& arn, const std::function<Status(json& tags)>& edit) {
  auto id = resolveArn(arn);
  if (!id.ok()) return id.status();
  std::lock_guard lock(writeMu_);
  auto kv = loadExisting(*id);
  if (!kv.ok()) return kv.status();
  auto rec = Record::decode(kv->value);
  if (!rec) return internalError("stored " + id->describe() + " is unreadable");
  MESHD_RETURN_IF_ERROR(edit(rec->tags));
  if (rec->tags.size() > kMaxTags) {
    return Status(ErrorKind::kTooManyTags, id->describe() + " would have " + std::to_string(rec->tags.size()) +
                                               " tags; the limit is " + std::to_string(kMaxTags));
  }
  // Tags are not part of the resource's spec: its version does not move.
  auto result = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, rec->encode()}}});
  if (!result.ok()) return result.status();
  if (!result->succeeded) return conflict(id->describe() + " changed concurrently; retry");
  return json::object();
}

StatusOr<json> AppMeshService::tagResource(const json& input) {
  return editTags(input["resourceArn"], [&](json& tags) {
    mergeTags(tags, input["tags"]);
    return okStatus();
  });
}

StatusOr<json> AppMeshService::untagResource(const json& input) {
  return editTags(input["resourceArn"], [&](json& tags) {
    for (const json& key : input["tagKeys"]) {
      tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const json& t) { return t["key"] == key; }), tags.end());
    }
    return okStatus();
  });
}

StatusOr<json> AppMeshService::listTags(const json& input) {
  auto id = resolveArn(input["resourceArn"].get<std::string>());
  if (!id.ok()) return id.status();
  auto rec = load(*id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) return notFound(id->describe() + " not found");
  const json& tags = (*rec)->tags;
  size_t offset = 0;
  if (input.contains("nextToken")) {
    auto o = offsetFromToken(input["nextToken"].get<std::string>());
    if (!o || *o > tags.size()) return badRequest("nextToken: not a token of this list");
    offset = *o;
  }
  size_t limit = static_cast<size_t>(input.value("limit", kDefaultPageSize));
  json out = {{"tags", json::array()}};
  for (size_t i = offset; i < tags.size() && i < offset + limit; ++i) out["tags"].push_back(tags[i]);
  if (offset + limit < tags.size()) out["nextToken"] = offsetToken(offset + limit);
  return out;
}

}  // namespace meshd::api
