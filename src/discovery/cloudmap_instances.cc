// Cloud Map instances: registration with the AWS_INSTANCE_* attributes (the addresses the DNS server
// and the xDS layer serve), health, and discovery.

#include <arpa/inet.h>

#include <set>

#include "discovery/cloudmap_service.h"
#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

namespace {

constexpr size_t kMaxCustomAttributes = 30;
constexpr size_t kMaxAttributeBytes = 5000;
constexpr int64_t kMaxInstancesPerService = 1000;

Status invalid(const std::string& m) { return badRequest(m).withType("InvalidInput"); }

Status instanceNotFound(const std::string& id) {
  return Status(ErrorKind::kNotFound, "instance " + id + " not found").withType("InstanceNotFound");
}

bool isReserved(const std::string& key) { return key.rfind("AWS_", 0) == 0; }

Status checkAttributes(const json& attrs, const json& service) {
  size_t custom = 0, bytes = 0;
  for (auto& [k, v] : attrs.items()) {
    custom += !isReserved(k);
    bytes += k.size() + v.get<std::string>().size();
  }
  if (custom > kMaxCustomAttributes) return invalid("an instance can have at most 30 custom attributes");
  if (bytes > kMaxAttributeBytes) return invalid("instance attributes exceed 5000 bytes");
  auto attr = [&](const char* k) { return attrs.value(k, ""); };
  unsigned char buf[16];
  if (attrs.contains("AWS_INSTANCE_IPV4") && inet_pton(AF_INET, attr("AWS_INSTANCE_IPV4").c_str(), buf) != 1) {
    return invalid("AWS_INSTANCE_IPV4 is not an IPv4 address: " + attr("AWS_INSTANCE_IPV4"));
  }
  if (attrs.contains("AWS_INSTANCE_IPV6") && inet_pton(AF_INET6, attr("AWS_INSTANCE_IPV6").c_str(), buf) != 1) {
    return invalid("AWS_INSTANCE_IPV6 is not an IPv6 address: " + attr("AWS_INSTANCE_IPV6"));
  }
  if (attrs.contains("AWS_INSTANCE_PORT")) {
    const std::string p = attr("AWS_INSTANCE_PORT");
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535) {
      return invalid("AWS_INSTANCE_PORT must be an integer from 0 to 65535");
    }
  }
  if (attrs.contains("AWS_INIT_HEALTH_STATUS")) {
    if (attr("AWS_INIT_HEALTH_STATUS") != "HEALTHY" && attr("AWS_INIT_HEALTH_STATUS") != "UNHEALTHY") {
      return invalid("AWS_INIT_HEALTH_STATUS must be HEALTHY or UNHEALTHY");
    }
    if (!service.contains("HealthCheckCustomConfig")) {
      return invalid("AWS_INIT_HEALTH_STATUS is only for services with HealthCheckCustomConfig");
    }
  }
  std::set<std::string> types;
  if (service.contains("DnsConfig")) {
    for (const json& r : service["DnsConfig"]["DnsRecords"]) types.insert(r["Type"].get<std::string>());
  }
  if (types.count("A") && !attrs.contains("AWS_INSTANCE_IPV4")) return invalid("the service has an A record: AWS_INSTANCE_IPV4 is required");
  if (types.count("AAAA") && !attrs.contains("AWS_INSTANCE_IPV6")) return invalid("the service has an AAAA record: AWS_INSTANCE_IPV6 is required");
  if (types.count("SRV")) {
    if (!attrs.contains("AWS_INSTANCE_PORT")) return invalid("the service has an SRV record: AWS_INSTANCE_PORT is required");
    if (!attrs.contains("AWS_INSTANCE_IPV4") && !attrs.contains("AWS_INSTANCE_IPV6")) {
      return invalid("the service has an SRV record: AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 is required");
    }
  }
  if (types.count("CNAME") && !attrs.contains("AWS_INSTANCE_CNAME")) {
    return invalid("the service has a CNAME record: AWS_INSTANCE_CNAME is required");
  }
  return okStatus();
}

// HEALTHY or UNHEALTHY as discovery sees it: only custom health checks are run (by their owner);
// instances of other services count as healthy.
std::string healthOf(const json& instance) { return instance.value("Health", "HEALTHY"); }

bool matchesAll(const json& attrs, const json& params) {
  for (auto& [k, v] : params.items()) {
    if (!attrs.contains(k) || attrs[k] != v) return false;
  }
  return true;
}

}  // namespace

StatusOr<json> CloudMapService::registerInstance(const json& input) {
  std::string serviceId = input["ServiceId"], id = input["InstanceId"];
  std::lock_guard lock(writeMu_);
  auto svcKv = loadService(serviceId);
  if (!svcKv.ok()) return svcKv.status();
  json service = json::parse(svcKv->value)["data"];
  const json& attrs = input["Attributes"];
  MESHD_RETURN_IF_ERROR(checkAttributes(attrs, service));
  auto existing = store_.get(keys::instance(serviceId, id));
  if (!existing.ok()) return existing.status();
  json previous = existing->has_value() ? json::parse((*existing)->value) : json();
  if (!previous.is_null() && input.contains("CreatorRequestId") &&
      previous.value("CreatorRequestId", "") == input["CreatorRequestId"] && previous["Attributes"] == attrs) {
    return json{{"OperationId", previous.value("OperationId", "")}};  // a retry of the same request
  }
  if (previous.is_null()) {
    auto n = store_.count(keys::instancesOf(serviceId));
    if (!n.ok()) return n.status();
    if (static_cast<int64_t>(*n) >= kMaxInstancesPerService) {
      return Status(ErrorKind::kLimitExceeded, "service " + serviceId + " already has 1000 instances")
          .withType("ResourceLimitExceeded");
    }
  }
  json instance = {{"Id", id}, {"Attributes", attrs}};
  if (input.contains("CreatorRequestId")) instance["CreatorRequestId"] = input["CreatorRequestId"];
  if (service.contains("HealthCheckCustomConfig")) {
    instance["Health"] = attrs.value("AWS_INIT_HEALTH_STATUS", previous.is_null() ? "HEALTHY" : healthOf(previous));
  }
  store::Op opWrite;
  std::string opId = newOperation("REGISTER_INSTANCE", {{"INSTANCE", id}, {"SERVICE", serviceId}}, &opWrite);
  instance["OperationId"] = opId;
  auto r = store_.commit({{},
                          {{store::Op::Type::kPut, keys::instance(serviceId, id), instance.dump()},
                           {store::Op::Type::kPut, keys::instancesRevision(serviceId), ""},
                           opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

StatusOr<json> CloudMapService::deregisterInstance(const json& input) {
  std::string serviceId = input["ServiceId"], id = input["InstanceId"];
  std::lock_guard lock(writeMu_);
  auto svcKv = loadService(serviceId);
  if (!svcKv.ok()) return svcKv.status();
  auto kv = store_.get(keys::instance(serviceId, id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return instanceNotFound(id);
  store::Op opWrite;
  std::string opId = newOperation("DEREGISTER_INSTANCE", {{"INSTANCE", id}, {"SERVICE", serviceId}}, &opWrite);
  auto r = store_.commit({{},
                          {{store::Op::Type::kDelete, (*kv)->key, ""},
                           {store::Op::Type::kPut, keys::instancesRevision(serviceId), ""},
                           opWrite}});
  if (!r.ok()) return r.status();
  return json{{"OperationId", opId}};
}

StatusOr<json> CloudMapService::getInstance(const json& input) {
  std::string serviceId = input["ServiceId"], id = input["InstanceId"];
  auto svcKv = loadService(serviceId);
  if (!svcKv.ok()) return svcKv.status();
  auto kv = store_.get(keys::instance(serviceId, id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return instanceNotFound(id);
  json inst = json::parse((*kv)->value);
  json out = {{"Id", inst["Id"]}, {"Attributes", inst["Attributes"]}};
  if (inst.contains("CreatorRequestId")) out["CreatorRequestId"] = inst["CreatorRequestId"];
  return json{{"Instance", out}};
}

StatusOr<json> CloudMapService::listInstances(const json& input) {
  auto svcKv = loadService(input["ServiceId"]);
  if (!svcKv.ok()) return svcKv.status();
  auto all = listAll(keys::instancesOf(input["ServiceId"]));
  if (!all.ok()) return all.status();
  json items = json::array();
  for (const store::KeyValue& kv : *all) {
    json inst = json::parse(kv.value);
    items.push_back({{"Id", inst["Id"]}, {"Attributes", inst["Attributes"]}});
  }
  Status error;
  json page = paginate(items, input, "Instances", &error);
  if (!error.ok()) return error;
  return page;
}

StatusOr<json> CloudMapService::getInstancesHealthStatus(const json& input) {
  auto svcKv = loadService(input["ServiceId"]);
  if (!svcKv.ok()) return svcKv.status();
  json service = json::parse(svcKv->value)["data"];
  bool checked = service.contains("HealthCheckCustomConfig") || service.contains("HealthCheckConfig");
  auto all = listAll(keys::instancesOf(input["ServiceId"]));
  if (!all.ok()) return all.status();
  std::map<std::string, std::string> health;
  for (const store::KeyValue& kv : *all) {
    json inst = json::parse(kv.value);
    health[inst["Id"]] = checked ? healthOf(inst) : "UNKNOWN";
  }
  json ids = json::array();
  if (input.contains("Instances")) {
    for (const json& id : input["Instances"]) {
      if (!health.count(id.get<std::string>())) return instanceNotFound(id);
      ids.push_back(id);
    }
  } else {
    for (const auto& [id, _] : health) ids.push_back(id);
  }
  Status error;
  json page = paginate(ids, input, "Ids", &error);
  if (!error.ok()) return error;
  json out = {{"Status", json::object()}};
  for (const json& id : page["Ids"]) out["Status"][id.get<std::string>()] = health[id.get<std::string>()];
  if (page.contains("NextToken")) out["NextToken"] = page["NextToken"];
  return out;
}

StatusOr<json> CloudMapService::updateInstanceCustomHealthStatus(const json& input) {
  std::string serviceId = input["ServiceId"], id = input["InstanceId"];
  std::lock_guard lock(writeMu_);
  auto svcKv = loadService(serviceId);
  if (!svcKv.ok()) return svcKv.status();
  if (!json::parse(svcKv->value)["data"].contains("HealthCheckCustomConfig")) {
    return Status(ErrorKind::kNotFound, "service " + serviceId + " has no custom health check")
        .withType("CustomHealthNotFound");
  }
  auto kv = store_.get(keys::instance(serviceId, id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return instanceNotFound(id);
  json inst = json::parse((*kv)->value);
  if (inst.value("Health", "") == input["Status"]) return json::object();  // no change, no event
  inst["Health"] = input["Status"];
  auto r = store_.commit({{{(*kv)->key, (*kv)->modRevision}},
                          {{store::Op::Type::kPut, (*kv)->key, inst.dump()},
                           {store::Op::Type::kPut, keys::instancesRevision(serviceId), ""}}});
  if (!r.ok()) return r.status();
  return json::object();
}

StatusOr<json> CloudMapService::discoverInstances(const json& input) {
  auto namespaces = listAll(keys::kNamespaces);
  if (!namespaces.ok()) return namespaces.status();
  std::string nsId;
  for (const store::KeyValue& kv : *namespaces) {
    json ns = json::parse(kv.value)["data"];
    if (ns["Name"] == input["NamespaceName"] || ns["Properties"]["HttpProperties"]["HttpName"] == input["NamespaceName"]) {
      nsId = ns["Id"];
    }
  }
  if (nsId.empty()) {
    return Status(ErrorKind::kNotFound, "namespace " + input["NamespaceName"].get<std::string>() + " not found")
        .withType("NamespaceNotFound");
  }
  auto services = listAll(keys::kServices);
  if (!services.ok()) return services.status();
  std::string serviceId;
  bool healthChecked = false;
  for (const store::KeyValue& kv : *services) {
    json s = json::parse(kv.value)["data"];
    if (s["NamespaceId"] == nsId && s["Name"] == input["ServiceName"]) {
      serviceId = s["Id"];
      healthChecked = s.contains("HealthCheckConfig") || s.contains("HealthCheckCustomConfig");
    }
  }
  if (serviceId.empty()) {
    return Status(ErrorKind::kNotFound, "service " + input["ServiceName"].get<std::string>() + " not found")
        .withType("ServiceNotFound");
  }
  auto all = listAll(keys::instancesOf(serviceId));
  if (!all.ok()) return all.status();
  json query = input.value("QueryParameters", json::object());
  json optional = input.value("OptionalParameters", json::object());
  // The filter only means something for services with a health check; others return everything.
  std::string filter = healthChecked ? input.value("HealthStatus", "HEALTHY") : "ALL";
  json matched = json::array(), preferred = json::array(), healthy = json::array();
  auto revisionKv = store_.get(keys::instancesRevision(serviceId));
  if (!revisionKv.ok()) return revisionKv.status();
  store::Revision revision = revisionKv->has_value() ? (*revisionKv)->modRevision : 0;
  for (const store::KeyValue& kv : *all) {
    json inst = json::parse(kv.value);
    if (!matchesAll(inst["Attributes"], query)) continue;
    json summary = {{"InstanceId", inst["Id"]}, {"NamespaceName", input["NamespaceName"]},
                    {"ServiceName", input["ServiceName"]}, {"HealthStatus", healthOf(inst)},
                    {"Attributes", inst["Attributes"]}};
    matched.push_back(summary);
  }
  if (!optional.empty()) {
    for (const json& s : matched) {
      if (matchesAll(s["Attributes"], optional)) preferred.push_back(s);
    }
    if (!preferred.empty()) matched = preferred;
  }
  json out = json::array();
  for (const json& s : matched) {
    if (s["HealthStatus"] == "HEALTHY") healthy.push_back(s);
  }
  if (filter == "ALL") out = matched;
  else if (filter == "HEALTHY") out = healthy;
  else if (filter == "UNHEALTHY") {
    for (const json& s : matched) {
      if (s["HealthStatus"] == "UNHEALTHY") out.push_back(s);
    }
  } else out = healthy.empty() ? matched : healthy;  // HEALTHY_OR_ELSE_ALL
  size_t max = static_cast<size_t>(input.value("MaxResults", 100));
  if (out.size() > max) out.erase(out.begin() + static_cast<long>(max), out.end());
  return json{{"Instances", out}, {"InstancesRevision", revision}};
}

}  // namespace meshd::discovery
