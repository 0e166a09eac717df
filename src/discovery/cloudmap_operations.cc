// Cloud Map operations (every create/update/delete/register/deregister is one, finished at once
// here since meshd applies changes synchronously) and tags on namespaces and services.

#include "discovery/cloudmap_service.h"
#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

namespace {

constexpr size_t kMaxTags = 50;

bool operationMatches(const json& op, const json& filter) {
  std::string name = filter["Name"], cond = filter.value("Condition", "EQ");
  const json& values = filter["Values"];
  if (name == "UPDATE_DATE") {
    if (values.size() != 2) return false;
    double t = op["UpdateDate"];
    return t >= std::stod(values[0].get<std::string>()) && t <= std::stod(values[1].get<std::string>());
  }
  json field = name == "NAMESPACE_ID" ? json(op["Targets"].value("NAMESPACE", ""))
               : name == "SERVICE_ID" ? json(op["Targets"].value("SERVICE", ""))
               : name == "STATUS"     ? op["Status"]
                                      : op["Type"];
  for (const json& v : values) {
    if (v == field) return true;
  }
  return false;
}

}  // namespace

StatusOr<json> CloudMapService::getOperation(const json& input) {
  auto kv = store_.get(keys::operation(input["OperationId"]));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) {
    return Status(ErrorKind::kNotFound, "operation " + input["OperationId"].get<std::string>() + " not found")
        .withType("OperationNotFound");
  }
  return json{{"Operation", json::parse((*kv)->value)}};
}

StatusOr<json> CloudMapService::listOperations(const json& input) {
  auto all = listAll(keys::kOperations);
  if (!all.ok()) return all.status();
  std::vector<json> ops;
  for (const store::KeyValue& kv : *all) {
    json op = json::parse(kv.value);
    bool keep = true;
    try {
      for (const json& f : input.value("Filters", json::array())) keep = keep && operationMatches(op, f);
    } catch (const std::exception&) {
      return badRequest("UPDATE_DATE filter values must be two epoch timestamps").withType("InvalidInput");
    }
    if (keep) ops.push_back(op);
  }
  std::sort(ops.begin(), ops.end(), [](const json& a, const json& b) { return a["CreateDate"] < b["CreateDate"]; });
  json items = json::array();
  for (const json& op : ops) items.push_back({{"Id", op["Id"]}, {"Status", op["Status"]}});
  Status error;
  json page = paginate(items, input, "Operations", &error);
  if (!error.ok()) return error;
  return page;
}

StatusOr<json> CloudMapService::tagResource(const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadByArn(input["ResourceARN"]);
  if (!kv.ok()) return kv.status();
  json record = json::parse(kv->value);
  json& tags = record["tags"];
  for (const json& tag : input["Tags"]) {
    auto same = std::find_if(tags.begin(), tags.end(), [&](const json& t) { return t["Key"] == tag["Key"]; });
    if (same != tags.end()) tags.erase(same);
    tags.push_back(tag);
  }
  if (tags.size() > kMaxTags) {
    return Status(ErrorKind::kTooManyTags, "a resource can have at most 50 tags").withType("TooManyTagsException");
  }
  auto r = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, record.dump()}}});
  if (!r.ok()) return r.status();
  return json::object();
}

StatusOr<json> CloudMapService::untagResource(const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadByArn(input["ResourceARN"]);
  if (!kv.ok()) return kv.status();
  json record = json::parse(kv->value);
  json& tags = record["tags"];
  for (const json& key : input["TagKeys"]) {
    tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const json& t) { return t["Key"] == key; }), tags.end());
  }
  auto r = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, record.dump()}}});
  if (!r.ok()) return r.status();
  return json::object();
}

StatusOr<json> CloudMapService::listTagsForResource(const json& input) {
  auto kv = loadByArn(input["ResourceARN"]);
  if (!kv.ok()) return kv.status();
  return json{{"Tags", json::parse(kv->value)["tags"]}};
}

}  // namespace meshd::discovery
