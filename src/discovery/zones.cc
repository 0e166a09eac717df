#include "discovery/zones.h"

#include <algorithm>

namespace meshd::discovery {

using nlohmann::json;

namespace {

constexpr size_t kMultivalueAnswers = 8;

bool isDnsNamespace(const json& ns) { return ns.value("Type", "") != "HTTP"; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

uint32_t ttlOf(const json& dnsConfig, const std::string& type) {
  for (const json& r : dnsConfig["DnsRecords"]) {
    if (r["Type"] == type) return static_cast<uint32_t>(std::min<int64_t>(r["TTL"].get<int64_t>(), 2147483647));
  }
  return 0;
}

bool has(const json& dnsConfig, const std::string& type) {
  for (const json& r : dnsConfig["DnsRecords"]) {
    if (r["Type"] == type) return true;
  }
  return false;
}

// The instances a service answers with: healthy ones (all when none is), at most 8, or 1 if WEIGHTED.
std::vector<json> answering(const std::vector<json>& instances, const json& dnsConfig) {
  std::vector<json> healthy;
  for (const json& i : instances) {
    if (isHealthy(i)) healthy.push_back(i);
  }
  std::vector<json> chosen = healthy.empty() ? instances : healthy;
  size_t limit = dnsConfig.value("RoutingPolicy", "MULTIVALUE") == "WEIGHTED" ? 1 : kMultivalueAnswers;
  if (chosen.size() > limit) chosen.resize(limit);
  return chosen;
}

void count(Status st, size_t* skipped) {
  if (!st.ok()) ++*skipped;
}

void addAddresses(dns::ZoneSetBuilder& b, const std::string& name, const json& attrs, uint32_t v4Ttl,
                  uint32_t v6Ttl, size_t* skipped) {
  if (attrs.contains("AWS_INSTANCE_IPV4")) count(b.addA(name, attrs["AWS_INSTANCE_IPV4"].get<std::string>(), v4Ttl), skipped);
  if (attrs.contains("AWS_INSTANCE_IPV6")) count(b.addAaaa(name, attrs["AWS_INSTANCE_IPV6"].get<std::string>(), v6Ttl), skipped);
}

void addService(dns::ZoneSetBuilder& b, const std::string& zone, const json& service,
                const std::vector<json>& instances, size_t* skipped) {
  const json& dns = service["DnsConfig"];
  std::string name = lower(service["Name"].get<std::string>() + "." + zone);
  for (const json& inst : answering(instances, dns)) {
    const json& attrs = inst["Attributes"];
    if (has(dns, "A") && attrs.contains("AWS_INSTANCE_IPV4")) {
      count(b.addA(name, attrs["AWS_INSTANCE_IPV4"].get<std::string>(), ttlOf(dns, "A")), skipped);
    }
    if (has(dns, "AAAA") && attrs.contains("AWS_INSTANCE_IPV6")) {
      count(b.addAaaa(name, attrs["AWS_INSTANCE_IPV6"].get<std::string>(), ttlOf(dns, "AAAA")), skipped);
    }
    if (has(dns, "CNAME") && attrs.contains("AWS_INSTANCE_CNAME")) {
      count(b.addCname(name, attrs["AWS_INSTANCE_CNAME"].get<std::string>(), ttlOf(dns, "CNAME")), skipped);
    }
    if (has(dns, "SRV") && attrs.contains("AWS_INSTANCE_PORT")) {
      std::string target = lower(inst["Id"].get<std::string>() + "." + name);
      uint32_t ttl = ttlOf(dns, "SRV");
      Status st = b.addSrv(name, 1, 1, static_cast<uint16_t>(std::stoi(attrs["AWS_INSTANCE_PORT"].get<std::string>())),
                           target, ttl);
      count(st, skipped);
      if (st.ok()) addAddresses(b, target, attrs, ttl, ttl, skipped);
    }
  }
}

}  // namespace

std::shared_ptr<const dns::ZoneSet> buildZones(const RegistrySnapshot& registry, size_t* skipped) {
  size_t ignored = 0;
  if (!skipped) skipped = &ignored;
  dns::ZoneSetBuilder b;
  std::map<std::string, std::string> zoneOfNamespace;  // namespace id -> apex
  std::vector<std::string> apexes;
  for (const json& ns : registry.namespaces) {
    if (!isDnsNamespace(ns)) continue;
    dns::Zone zone;
    zone.apex = lower(ns["Name"]);
    const json& soa = ns["Properties"]["DnsProperties"]["SOA"];
    if (soa.contains("TTL")) zone.soaTtl = static_cast<uint32_t>(std::min<int64_t>(soa["TTL"].get<int64_t>(), 2147483647));
    zone.serial = static_cast<uint32_t>(registry.revision);
    if (b.addZone(zone).ok()) {
      zoneOfNamespace[ns["Id"]] = zone.apex;
      apexes.push_back(zone.apex);
    } else {
      ++*skipped;
    }
  }
  for (const json& s : registry.services) {
    auto zone = zoneOfNamespace.find(s.value("NamespaceId", ""));
    if (zone == zoneOfNamespace.end() || !s.contains("DnsConfig")) continue;
    auto it = registry.instances.find(s["Id"]);
    addService(b, zone->second, s, it == registry.instances.end() ? std::vector<json>{} : it->second, skipped);
  }
  for (const json& rec : registry.staticRecords) {
    std::string name = lower(rec["Name"]);
    bool inZone = std::any_of(apexes.begin(), apexes.end(), [&](const std::string& apex) {
      return name == apex || (name.size() > apex.size() && name.compare(name.size() - apex.size(), apex.size(), apex) == 0 &&
                              name[name.size() - apex.size() - 1] == '.');
    });
    if (!inZone) {
      dns::Zone zone;
      size_t dot = name.find('.');
      zone.apex = dot == std::string::npos ? name : name.substr(dot + 1);
      zone.serial = static_cast<uint32_t>(registry.revision);
      if (b.addZone(zone).ok()) apexes.push_back(zone.apex);
    }
    uint32_t ttl = static_cast<uint32_t>(rec.value("TTL", 60));
    for (const json& a : rec["A"]) count(b.addA(name, a.get<std::string>(), ttl), skipped);
    for (const json& a : rec["AAAA"]) count(b.addAaaa(name, a.get<std::string>(), ttl), skipped);
  }
  return b.build();
}

}  // namespace meshd::discovery
