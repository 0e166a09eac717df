#include "model/service_model.h"

#include <nlohmann/json.hpp>

namespace meshd::model {

extern const std::string_view kAppMeshModel;
extern const std::string_view kCloudMapModel;

namespace {

using nlohmann::json;

std::optional<Shape::Type> typeOf(const std::string& t) {
  static const std::map<std::string, Shape::Type> kTypes = {
      {"structure", Shape::Type::kStructure}, {"list", Shape::Type::kList},
      {"map", Shape::Type::kMap},             {"string", Shape::Type::kString},
      {"integer", Shape::Type::kInteger},     {"long", Shape::Type::kLong},
      {"boolean", Shape::Type::kBoolean},     {"timestamp", Shape::Type::kTimestamp},
      {"double", Shape::Type::kDouble},       {"float", Shape::Type::kDouble},
      {"blob", Shape::Type::kBlob}};
  auto it = kTypes.find(t);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const ServiceModel> mustParse(std::string_view text) {
  auto m = ServiceModel::parse(text);
  if (!m.ok()) std::abort();  // the embedded model is generated at build time; it always parses
  return *m;
}

}  // namespace

const Member* Shape::findMember(std::string_view n) const {
  for (const Member& m : members) {
    if (m.name == n) return &m;
  }
  return nullptr;
}

StatusOr<std::shared_ptr<const ServiceModel>> ServiceModel::parse(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("shapes") || !doc.contains("operations")) {
    return internalError("service model: not a model document");
  }
  auto model = std::shared_ptr<ServiceModel>(new ServiceModel());
  const json& meta = doc.value("metadata", json::object());
  model->protocol_ = meta.value("protocol", "");
  model->targetPrefix_ = meta.value("targetPrefix", "");

  // Two passes: create every shape, then link references.
  for (auto& [name, s] : doc["shapes"].items()) {
    auto shape = std::make_unique<Shape>();
    shape->name = name;
    auto type = typeOf(s.value("type", ""));
    if (!type) return internalError("service model: shape " + name + " has an unknown type");
    shape->type = *type;
    model->shapes_[name] = std::move(shape);
  }
  auto ref = [&](const json& j) -> const Shape* {
    if (!j.is_object() || !j.contains("shape")) return nullptr;
    auto it = model->shapes_.find(j["shape"].get<std::string>());
    return it == model->shapes_.end() ? nullptr : it->second.get();
  };
  for (auto& [name, s] : doc["shapes"].items()) {
    Shape& shape = *model->shapes_[name];
    const json members = s.value("members", json::object());
    for (auto& [mname, m] : members.items()) {
      Member member{mname, ref(m), m.value("location", ""), m.value("locationName", mname),
                    m.value("idempotencyToken", false)};
      if (!member.shape) return internalError("service model: " + name + "." + mname + " is dangling");
      shape.members.push_back(std::move(member));
    }
    for (const auto& r : s.value("required", json::array())) shape.required.insert(r.get<std::string>());
    if (s.contains("member")) shape.member = ref(s["member"]);
    if (s.contains("key")) shape.key = ref(s["key"]);
    if (s.contains("value")) shape.value = ref(s["value"]);
    if (s.contains("min")) shape.min = s["min"].get<int64_t>();
    if (s.contains("max")) shape.max = s["max"].get<int64_t>();
    for (const auto& e : s.value("enum", json::array())) shape.enumValues.push_back(e.get<std::string>());
    if (s.contains("pattern")) {
      shape.patternText = s["pattern"].get<std::string>();
      try {
        shape.pattern.emplace(shape.patternText, std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        shape.pattern.reset();  // a pattern std::regex cannot express is not enforced
      }
    }
    shape.isUnion = s.value("union", false);
    shape.payload = s.value("payload", "");
    shape.isException = s.value("exception", false);
    if (s.contains("error")) shape.httpStatus = s["error"].value("httpStatusCode", 400);
  }
  for (auto& [name, o] : doc["operations"].items()) {
    Operation op;
    op.name = name;
    op.method = o["http"].value("method", "POST");
    op.uri = o["http"].value("requestUri", "/");
    op.input = o.contains("input") ? model->shape(o["input"].get<std::string>()) : nullptr;
    op.output = o.contains("output") ? model->shape(o["output"].get<std::string>()) : nullptr;
    for (const auto& e : o.value("errors", json::array())) op.errors.push_back(e.get<std::string>());
    model->operations_.push_back(std::move(op));
  }
  return std::shared_ptr<const ServiceModel>(std::move(model));
}

const Shape* ServiceModel::shape(std::string_view name) const {
  auto it = shapes_.find(name);
  return it == shapes_.end() ? nullptr : it->second.get();
}

const Operation* ServiceModel::operation(std::string_view name) const {
  for (const Operation& op : operations_) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

const ServiceModel& ServiceModel::appMesh() {
  static const auto model = mustParse(kAppMeshModel);
  return *model;
}

// Cloud Map added DiscoverInstancesRevision (2023) after the model Debian's awscli ships; meshd
// serves it too, defined here in the model's own terms.
constexpr std::string_view kCloudMapSupplement = R"({
  "operations": {"DiscoverInstancesRevision": {"http": {"method": "POST", "requestUri": "/"},
      "input": "DiscoverInstancesRevisionRequest", "output": "DiscoverInstancesRevisionResponse",
      "errors": ["ServiceNotFound", "NamespaceNotFound", "InvalidInput", "RequestLimitExceeded"]}},
  "shapes": {
    "DiscoverInstancesRevisionRequest": {"type": "structure", "required": ["NamespaceName", "ServiceName"],
      "members": {"NamespaceName": {"shape": "NamespaceName"}, "ServiceName": {"shape": "ServiceName"}}},
    "DiscoverInstancesRevisionResponse": {"type": "structure",
      "members": {"InstancesRevision": {"shape": "Revision"}}},
    "Revision": {"type": "long"}}})";

const ServiceModel& ServiceModel::cloudMap() {
  static const auto model = [] {
    json doc = json::parse(kCloudMapModel);
    json extra = json::parse(kCloudMapSupplement);
    for (auto& [k, v] : extra["operations"].items()) {
      if (!doc["operations"].contains(k)) doc["operations"][k] = v;
    }
    for (auto& [k, v] : extra["shapes"].items()) {
      if (!doc["shapes"].contains(k)) doc["shapes"][k] = v;
    }
    return mustParse(doc.dump());
  }();
  return *model;
}

}  // namespace meshd::model
