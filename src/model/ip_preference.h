#pragma once
// App Mesh's IP preference, as the IPv6 walkthrough's table defines it: which preference applies to
// a proxy, and what it means for DNS lookups, Cloud Map addresses, the local app's address and the
// listeners' bind address. One small module, shared by the xDS translator and `meshctl diagnose`.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace meshd::model {

enum class IpPreference { kNone, kIPv4Preferred, kIPv6Preferred, kIPv4Only, kIPv6Only };

// "IPv6_PREFERRED" -> kIPv6Preferred; anything else (absent) -> kNone.
IpPreference parseIpPreference(const std::string& text);
std::string toString(IpPreference p);  // "IPv6_PREFERRED", or "none"

// A virtual node's own preference (serviceDiscovery.dns/awsCloudMap.ipPreference), else its
// mesh's (spec.serviceDiscovery.ipPreference), else none.
IpPreference effectivePreference(const nlohmann::json& meshSpec, const nlohmann::json& nodeSpec);
// A virtual gateway has no preference of its own: its mesh's applies.
IpPreference gatewayPreference(const nlohmann::json& meshSpec);

// Envoy's Cluster.dns_lookup_family for a DNS-discovered target with preference `p`.
enum class DnsLookupFamily { kAuto, kV4Only, kV6Only, kV4Preferred, kAll };
DnsLookupFamily dnsLookupFamily(IpPreference p);
std::string toString(DnsLookupFamily f);  // "AUTO", "V4_ONLY", ...

// The address of a Cloud Map instance a caller uses, from its IPv4 and IPv6 attributes ("" when
// absent); nullopt when the preference allows neither.
std::optional<std::string> cloudMapAddress(IpPreference p, const std::string& ipv4, const std::string& ipv6);

// Where the sidecar reaches its own app: 127.0.0.1, or ::1 for IPv6_ONLY and IPv6_PREFERRED (no fallback).
std::string localAppAddress(IpPreference p);

// The listeners' bind address: 0.0.0.0 with no preference, else :: with ipv4_compat. A host
// without IPv6 gets 0.0.0.0 whatever the preference (`degraded` says so).
struct ListenerBinding {
  std::string address;
  bool ipv4Compat = false;
  bool degraded = false;
};
ListenerBinding listenerBinding(IpPreference p, bool hostHasIpv6);

}  // namespace meshd::model
