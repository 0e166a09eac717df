// Cloud Map services: what a name in a namespace resolves to (DNS records and their TTLs, routing
// policy) and how instance health is decided.

#include <set>

#include "discovery/cloudmap_service.h"
#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

namespace {

Status invalid(const std::string& m) { return badRequest(m).withType("InvalidInput"); }

std::set<std::string> recordTypes(const json& dnsConfig) {
  std::set<std::string> types;
  for (const json& r : dnsConfig["DnsRecords"]) types.insert(r["Type"].get<std::string>());
  return types;
}

// The combinations Cloud Map allows: A, AAAA, A+AAAA, SRV, CNAME; each type once.
Status checkDnsConfig(const json& dns) {
  const json& records = dns["DnsRecords"];
  std::set<std::string> types = recordTypes(dns);
  if (records.empty()) return invalid("DnsConfig.DnsRecords must have at least one record");
  if (types.size() != records.size()) return invalid("DnsConfig.DnsRecords has a record type twice");
  bool addressOnly = !types.count("SRV") && !types.count("CNAME");
  if (!addressOnly && types.size() != 1) {
    return invalid("DnsConfig.DnsRecords: SRV and CNAME cannot be combined with other record types");
  }
  if (types.count("CNAME") && dns.value("RoutingPolicy", "MULTIVALUE") != "WEIGHTED") {
    return invalid("DnsConfig: a CNAME record needs RoutingPolicy WEIGHTED");
  }
  return okStatus();
}

}  // namespace

StatusOr<json> CloudMapService::createService(const json& input) {
  std::string nsId = input.value("NamespaceId", "");
  if (nsId.empty() && input.contains("DnsConfig")) nsId = input["DnsConfig"].value("NamespaceId", "");
  if (nsId.empty()) return invalid("NamespaceId is required");
  std::lock_guard lock(writeMu_);
  auto nsKv = loadNamespace(nsId);
  if (!nsKv.ok()) return nsKv.status();
  json ns = json::parse(nsKv->value)["data"];
  if (input.contains("HealthCheckConfig") && input.contains("HealthCheckCustomConfig")) {
    return invalid("HealthCheckConfig and HealthCheckCustomConfig cannot both be set");
  }
  if (input.contains("HealthCheckConfig") && ns["Type"] != "DNS_PUBLIC") {
    return invalid("HealthCheckConfig is only for services in public DNS namespaces");
  }
  json dns;
  if (input.contains("DnsConfig")) {
    if (ns["Type"] == "HTTP") return invalid("namespace " + nsId + " is an HTTP namespace: DnsConfig is not allowed");
    if (input.value("Type", "") == "HTTP") return invalid("a service of Type HTTP cannot have a DnsConfig");
    dns = input["DnsConfig"];
    dns["NamespaceId"] = nsId;
    if (!dns.contains("RoutingPolicy")) dns["RoutingPolicy"] = "MULTIVALUE";
    MESHD_RETURN_IF_ERROR(checkDnsConfig(dns));
    if (recordTypes(dns).count("CNAME") && input.contains("HealthCheckConfig")) {
      return invalid("a service with a CNAME record cannot have a HealthCheckConfig");
    }
  }
  auto all = listAll(keys::kServices);
  if (!all.ok()) return all.status();
  for (const store::KeyValue& kv : *all) {
    json existing = json::parse(kv.value)["data"];
    if (existing["NamespaceId"] != nsId || existing["Name"] != input["Name"]) continue;
    if (input.contains("CreatorRequestId") && existing.value("CreatorRequestId", "") == input["CreatorRequestId"]) {
      return json{{"Service", existing}};
    }
    return Status(ErrorKind::kConflict, "service " + input["Name"].get<std::string>() + " already exists in " + nsId)
        .withType("ServiceAlreadyExists");
  }
  std::string id = "srv-" + randomToken(16);
  json data = {{"Id", id}, {"Arn", arn("service", id)}, {"Name", input["Name"]}, {"NamespaceId", nsId},
               {"Type", dns.is_null() ? "HTTP" : "DNS_HTTP"}, {"CreateDate", now()}, {"InstanceCount", 0}};
  if (!dns.is_null()) data["DnsConfig"] = dns;
  for (const char* f : {"Description", "HealthCheckConfig", "HealthCheckCustomConfig", "CreatorRequestId"}) {
    if (input.contains(f)) data[f] = input[f];
  }
  json tags = input.value("Tags", json::array());
  if (tags.size() > 50) {
    return Status(ErrorKind::kTooManyTags, "a service can have at most 50 tags").withType("TooManyTagsException");
  }
  json record = {{"data", data}, {"tags", tags}};
  auto r = store_.commit({{{keys::service(id), 0}}, {{store::Op::Type::kPut, keys::service(id), record.dump()}}});
  if (!r.ok()) return r.status();
  return json{{"Service", data}};
}

StatusOr<json> CloudMapService::getService(const json& input) {
  auto kv = loadService(input["Id"]);
  if (!kv.ok()) return kv.status();
  json data = json::parse(kv->value)["data"];
  auto n = store_.count(keys::instancesOf(data["Id"]));
  if (!n.ok()) return n.status();
  data["InstanceCount"] = *n;
  return json{{"Service", data}};
}

StatusOr<json> CloudMapService::listServices(const json& input) {
  auto all = listAll(keys::kServices);
  if (!all.ok()) return all.status();
  json items = json::array();
  for (const store::KeyValue& kv : *all) {
    json s = json::parse(kv.value)["data"];
    bool keep = true;
    for (const json& f : input.value("Filters", json::array())) {
      bool any = false;
      for (const json& v : f["Values"]) any = any || v == s["NamespaceId"];
      keep = keep && any;
    }
    if (!keep) continue;
    auto full = getService({{"Id", s["Id"]}});
    if (!full.ok()) continue;
    json summary = (*full)["Service"];
    summary.erase("NamespaceId");
    summary.erase("CreatorRequestId");
    items.push_back(summary);
  }
  Status error;
  json page = paginate(items, input, "Services", &error);
  if (!error.ok()) return error;
  return page;
}

StatusOr<json> CloudMapService::updateService(const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadService(input["Id"]);
  if (!kv.ok()) return kv.status();
  json record = json::parse(kv->value);
  json& data = record["data"];
  const json& change = input["Service"];
  if (change.contains("DnsConfig")) {
    if (!data.contains("DnsConfig")) return invalid("service " + data["Id"].get<std::string>() + " has no DnsConfig");
    if (recordTypes(change["DnsConfig"]) != recordTypes(data["DnsConfig"]) ||
        change["DnsConfig"]["DnsRecords"].size() != data["DnsConfig"]["DnsRecords"].size()) {
      return invalid("UpdateService can change record TTLs, not record types");
    }
    data["DnsConfig"]["DnsRecords"] = change["DnsConfig"]["DnsRecords"];
  }
  if (change.contains("Description")) data["Description"] = change["Description"];
  if (change.contains("HealthCheckConfig")) {
    if (!data.contains("HealthCheckConfig")) return invalid("service has no HealthCheckConfig to update");
    data["HealthCheckConfig"] = change["HealthCheckConfig"];
  }
  store::Op opWrite;
  std::string opId = newOperation("UPDATE_SERVICE", {{"SERVICE", data["Id"]}}, &opWrite);
  auto r = store_.commit({{{kv->key, kv->modRevision}}, {{store::Op::Type::kPut, kv->key, record.dump()}, opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

StatusOr<json> CloudMapService::deleteService(const json& input) {
  std::lock_guard lock(writeMu_);
  auto kv = loadService(input["Id"]);
  if (!kv.ok()) return kv.status();
  auto n = store_.count(keys::instancesOf(input["Id"]));
  if (!n.ok()) return n.status();
  if (*n > 0) {
    return Status(ErrorKind::kResourceInUse, "service " + input["Id"].get<std::string>() + " still has " +
                                                 std::to_string(*n) + " instances")
        .withType("ResourceInUse");
  }
  auto r = store_.commit({{{kv->key, kv->modRevision}},
                          {{store::Op::Type::kDelete, kv->key, ""},
                           {store::Op::Type::kDelete, keys::instancesRevision(input["Id"]), ""}}});
  if (!r.ok()) return r.status();
  return json::object();
}

}  // namespace meshd::discovery
