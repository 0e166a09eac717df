#include "cli/discovery_commands.h"

#include <sstream>

namespace meshd::cli {

using nlohmann::json;

namespace {

// Every item of a paginated Cloud Map list.
StatusOr<json> listAll(const Client& c, const std::string& op, json input, const std::string& field) {
  json items = json::array();
  while (true) {
    auto page = c.callCloudMap(op, input);
    if (!page.ok()) return page.status();
    for (const json& i : (*page)[field]) items.push_back(i);
    if (!page->contains("NextToken")) return items;
    input["NextToken"] = (*page)["NextToken"];
  }
}

}  // namespace

StatusOr<std::string> namespaceId(const Client& c, const std::string& nameOrId) {
  auto all = listAll(c, "ListNamespaces", json::object(), "Namespaces");
  if (!all.ok()) return all.status();
  for (const json& ns : *all) {
    if (ns["Name"] == nameOrId || ns["Id"] == nameOrId) return ns["Id"].get<std::string>();
  }
  return Status(ErrorKind::kNotFound, "namespace " + nameOrId + " not found").withType("NamespaceNotFound");
}

StatusOr<std::string> serviceId(const Client& c, const std::string& ns, const std::string& nameOrId) {
  auto nsId = namespaceId(c, ns);
  if (!nsId.ok()) return nsId.status();
  json filter = {{"Filters", {{{"Name", "NAMESPACE_ID"}, {"Values", {*nsId}}, {"Condition", "EQ"}}}}};
  auto all = listAll(c, "ListServices", filter, "Services");
  if (!all.ok()) return all.status();
  for (const json& s : *all) {
    if (s["Name"] == nameOrId || s["Id"] == nameOrId) return s["Id"].get<std::string>();
  }
  return Status(ErrorKind::kNotFound, "service " + nameOrId + " not found in " + ns).withType("ServiceNotFound");
}

StatusOr<json> createNamespace(const Client& c, const std::string& name, const std::string& type, int64_t soaTtl) {
  json in = {{"Name", name}};
  std::string op;
  if (type == "http") {
    op = "CreateHttpNamespace";
  } else if (type == "private" || type == "public") {
    op = type == "private" ? "CreatePrivateDnsNamespace" : "CreatePublicDnsNamespace";
    if (type == "private") in["Vpc"] = "vpc-local";  // Cloud Map requires one; meshd has no VPCs
    in["Properties"] = {{"DnsProperties", {{"SOA", {{"TTL", soaTtl}}}}}};
  } else {
    return badRequest("--type must be private, public or http");
  }
  return c.callCloudMap(op, in);
}

StatusOr<json> createService(const Client& c, const std::string& ns, const std::string& name,
                             const std::string& records, int64_t ttl, bool customHealth) {
  auto nsId = namespaceId(c, ns);
  if (!nsId.ok()) return nsId.status();
  json in = {{"Name", name}, {"NamespaceId", *nsId}};
  if (!records.empty()) {
    json list = json::array();
    std::stringstream types(records);
    std::string t;
    bool cname = false;
    while (std::getline(types, t, ',')) {
      list.push_back({{"Type", t}, {"TTL", ttl}});
      cname = cname || t == "CNAME";
    }
    in["DnsConfig"] = {{"DnsRecords", list}, {"RoutingPolicy", cname ? "WEIGHTED" : "MULTIVALUE"}};
  }
  if (customHealth) in["HealthCheckCustomConfig"] = json::object();
  return c.callCloudMap("CreateService", in);
}

StatusOr<json> registerInstance(const Client& c, const std::string& ns, const std::string& service,
                                const std::string& id, const InstanceSpec& spec) {
  auto svc = serviceId(c, ns, service);
  if (!svc.ok()) return svc.status();
  json attrs = json::object();
  for (const auto& [k, v] : spec.attributes) attrs[k] = v;
  if (!spec.ipv4.empty()) attrs["AWS_INSTANCE_IPV4"] = spec.ipv4;
  if (!spec.ipv6.empty()) attrs["AWS_INSTANCE_IPV6"] = spec.ipv6;
  if (!spec.port.empty()) attrs["AWS_INSTANCE_PORT"] = spec.port;
  return c.callCloudMap("RegisterInstance", {{"ServiceId", *svc}, {"InstanceId", id}, {"Attributes", attrs}});
}

}  // namespace meshd::cli
