#include "model/ip_preference.h"

namespace meshd::model {

using nlohmann::json;

IpPreference parseIpPreference(const std::string& text) {
  if (text == "IPv4_PREFERRED") return IpPreference::kIPv4Preferred;
  if (text == "IPv6_PREFERRED") return IpPreference::kIPv6Preferred;
  if (text == "IPv4_ONLY") return IpPreference::kIPv4Only;
  if (text == "IPv6_ONLY") return IpPreference::kIPv6Only;
  return IpPreference::kNone;
}

std::string toString(IpPreference p) {
  switch (p) {
    case IpPreference::kIPv4Preferred: return "IPv4_PREFERRED";
    case IpPreference::kIPv6Preferred: return "IPv6_PREFERRED";
    case IpPreference::kIPv4Only: return "IPv4_ONLY";
    case IpPreference::kIPv6Only: return "IPv6_ONLY";
    case IpPreference::kNone: break;
  }
  return "none";
}

IpPreference gatewayPreference(const json& meshSpec) {
  if (!meshSpec.is_object() || !meshSpec.contains("serviceDiscovery")) return IpPreference::kNone;
  return parseIpPreference(meshSpec["serviceDiscovery"].value("ipPreference", ""));
}

IpPreference effectivePreference(const json& meshSpec, const json& nodeSpec) {
  if (nodeSpec.is_object() && nodeSpec.contains("serviceDiscovery")) {
    const json& sd = nodeSpec["serviceDiscovery"];
    for (const char* kind : {"dns", "awsCloudMap"}) {
      if (sd.contains(kind) && sd[kind].contains("ipPreference")) {
        return parseIpPreference(sd[kind]["ipPreference"].get<std::string>());
      }
    }
  }
  return gatewayPreference(meshSpec);
}

DnsLookupFamily dnsLookupFamily(IpPreference p) {
  switch (p) {
    case IpPreference::kIPv4Preferred: return DnsLookupFamily::kV4Preferred;
    case IpPreference::kIPv4Only: return DnsLookupFamily::kV4Only;
    case IpPreference::kIPv6Only: return DnsLookupFamily::kV6Only;
    case IpPreference::kIPv6Preferred:  // Envoy's AUTO already prefers IPv6 and falls back
    case IpPreference::kNone: break;
  }
  return DnsLookupFamily::kAuto;
}

std::string toString(DnsLookupFamily f) {
  switch (f) {
    case DnsLookupFamily::kV4Only: return "V4_ONLY";
    case DnsLookupFamily::kV6Only: return "V6_ONLY";
    case DnsLookupFamily::kV4Preferred: return "V4_PREFERRED";
    case DnsLookupFamily::kAll: return "ALL";
    case DnsLookupFamily::kAuto: break;
  }
  return "AUTO";
}

std::optional<std::string> cloudMapAddress(IpPreference p, const std::string& ipv4, const std::string& ipv6) {
  auto first = [](const std::string& a, const std::string& b) -> std::optional<std::string> {
    if (!a.empty()) return a;
    if (!b.empty()) return b;
    return std::nullopt;
  };
  switch (p) {
    case IpPreference::kIPv4Only: return ipv4.empty() ? std::nullopt : std::optional(ipv4);
    case IpPreference::kIPv6Only: return ipv6.empty() ? std::nullopt : std::optional(ipv6);
    case IpPreference::kIPv6Preferred: return first(ipv6, ipv4);
    case IpPreference::kIPv4Preferred:
    case IpPreference::kNone: break;
  }
  return first(ipv4, ipv6);
}

std::string localAppAddress(IpPreference p) {
  return p == IpPreference::kIPv6Only || p == IpPreference::kIPv6Preferred ? "::1" : "127.0.0.1";
}

ListenerBinding listenerBinding(IpPreference p, bool hostHasIpv6) {
  if (p == IpPreference::kNone) return {"0.0.0.0", false, false};
  if (!hostHasIpv6) return {"0.0.0.0", false, true};
  return {"::", true, false};
}

}  // namespace meshd::model
