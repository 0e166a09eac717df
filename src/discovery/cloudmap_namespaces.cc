// Cloud Map namespaces: HTTP, private DNS and public DNS. A DNS namespace is a zone that meshd's
// DNS server answers for authoritatively.

#include "discovery/cloudmap_service.h"
#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

namespace {

constexpr int64_t kDefaultSoaTtl = 15;

Status alreadyExists(const json& existing) {
  return Status(ErrorKind::kConflict, "namespace " + existing.value("Name", "") + " already exists")
      .withType("NamespaceAlreadyExists");
}

bool matches(const json& filter, const std::string& value) {
  std::string cond = filter.value("Condition", "EQ");
  const json& values = filter["Values"];
  if (cond == "BEGINS_WITH") return !values.empty() && value.rfind(values[0].get<std::string>(), 0) == 0;
  for (const json& v : values) {
    if (v == value) return true;
  }
  return false;
}

}  // namespace

StatusOr<json> CloudMapService::createNamespace(const std::string& type, const json& input) {
  std::string name = input["Name"];
  std::lock_guard lock(writeMu_);
  auto all = listAll(keys::kNamespaces);
  if (!all.ok()) return all.status();
  for (const store::KeyValue& kv : *all) {
    json existing = json::parse(kv.value)["data"];
    if (existing["Name"] != name) continue;
    // The same creator repeating its request gets the original operation back.
    if (input.contains("CreatorRequestId") && existing.value("CreatorRequestId", "") == input["CreatorRequestId"] &&
        existing["Type"] == type) {
      return json{{"OperationId", existing.value("CreateOperationId", "")}};
    }
    return alreadyExists(existing);
  }
  std::string id = "ns-" + randomToken(16);
  json props = {{"HttpProperties", {{"HttpName", name}}}};
  if (type != "HTTP") {
    int64_t ttl = kDefaultSoaTtl;
    if (input.contains("Properties")) ttl = input["Properties"]["DnsProperties"]["SOA"]["TTL"];
    props["DnsProperties"] = {{"HostedZoneId", "Z" + randomToken(20)}, {"SOA", {{"TTL", ttl}}}};
    for (char& c : props["DnsProperties"]["HostedZoneId"].get_ref<std::string&>()) c = static_cast<char>(std::toupper(c));
  }
  store::Op opWrite;
  std::string opId = newOperation("CREATE_NAMESPACE", {{"NAMESPACE", id}}, &opWrite);
  json data = {{"Id", id}, {"Arn", arn("namespace", id)}, {"Name", name}, {"Type", type}, {"Properties", props},
               {"CreateDate", now()}, {"CreateOperationId", opId}};
  if (input.contains("Description")) data["Description"] = input["Description"];
  if (input.contains("CreatorRequestId")) data["CreatorRequestId"] = input["CreatorRequestId"];
  json record = {{"data", data}, {"tags", input.value("Tags", json::array())}};
  if (record["tags"].size() > 50) {
    return Status(ErrorKind::kTooManyTags, "a namespace can have at most 50 tags").withType("TooManyTagsException");
  }
  auto r = store_.commit({{{keys::ns(id), 0}}, {{store::Op::Type::kPut, keys::ns(id), record.dump()}, opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

StatusOr<json> CloudMapService::getNamespace(const json& input) {
  auto kv = loadNamespace(input["Id"]);
  if (!kv.ok()) return kv.status();
  json data = json::parse(kv->value)["data"];
  auto services = listAll(keys::kServices);
  if (!services.ok()) return services.status();
  int count = 0;
  for (const store::KeyValue& s : *services) count += json::parse(s.value)["data"]["NamespaceId"] == data["Id"];
  data["ServiceCount"] = count;
  data.erase("CreateOperationId");
  return json{{"Namespace", data}};
}

StatusOr<json> CloudMapService::listNamespaces(const json& input) {
  auto all = listAll(keys::kNamespaces);
  if (!all.ok()) return all.status();
  json items = json::array();
  for (const store::KeyValue& kv : *all) {
    json ns = json::parse(kv.value)["data"];
    bool keep = true;
    for (const json& f : input.value("Filters", json::array())) {
      std::string field = f["Name"] == "TYPE" ? ns["Type"] : f["Name"] == "NAME" ? ns["Name"]
                                                                                : ns["Properties"]["HttpProperties"]["HttpName"];
      keep = keep && matches(f, field);
    }
    if (!keep) continue;
    auto full = getNamespace({{"Id", ns["Id"]}});
    if (full.ok()) items.push_back((*full)["Namespace"]);
  }
  Status error;
  json page = paginate(items, input, "Namespaces", &error);
  if (!error.ok()) return error;
  return page;
}

StatusOr<json> CloudMapService::updateNamespace(const std::string& type, const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadNamespace(input["Id"]);
  if (!kv.ok()) return kv.status();
  json record = json::parse(kv->value);
  json& data = record["data"];
  if (data["Type"] != type) {
    return badRequest("namespace " + data["Id"].get<std::string>() + " is of type " + data["Type"].get<std::string>())
        .withType("InvalidInput");
  }
  const json& change = input["Namespace"];
  if (change.contains("Description")) data["Description"] = change["Description"];
  if (change.contains("Properties")) data["Properties"]["DnsProperties"]["SOA"] = change["Properties"]["DnsProperties"]["SOA"];
  store::Op opWrite;
  std::string opId = newOperation("UPDATE_NAMESPACE", {{"NAMESPACE", data["Id"]}}, &opWrite);
  auto r = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, record.dump()}, opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

StatusOr<json> CloudMapService::deleteNamespace(const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadNamespace(input["Id"]);
  if (!kv.ok()) return kv.status();
  auto services = listAll(keys::kServices);
  if (!services.ok()) return services.status();
  for (const store::KeyValue& s : *services) {
    if (json::parse(s.value)["data"]["NamespaceId"] == input["Id"]) {
      return Status(ErrorKind::kResourceInUse, "namespace " + input["Id"].get<std::string>() + " still has services")
          .withType("ResourceInUse");
    }
  }
  store::Op opWrite;
  std::string opId = newOperation("DELETE_NAMESPACE", {{"NAMESPACE", input["Id"]}}, &opWrite);
  auto r = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kDelete, kv->key, ""}, opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

}  // namespace meshd::discovery
