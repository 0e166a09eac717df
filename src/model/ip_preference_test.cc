#include "model/ip_preference.h"

#include <gtest/gtest.h>

namespace meshd::model {
namespace {

using nlohmann::json;

// The walkthrough's table, one row per preference.
struct Row {
  IpPreference pref;
  DnsLookupFamily family;
  const char* cloudMapBoth;    // address used when both are registered
  const char* cloudMapV4Only;  // when only IPv4 is registered ("" = no endpoint)
  const char* cloudMapV6Only;  // when only IPv6 is registered
  const char* local;
  const char* bind;
};

constexpr Row kTable[] = {
    {IpPreference::kNone, DnsLookupFamily::kAuto, "198.18.0.1", "198.18.0.1", "fd00::1", "127.0.0.1", "0.0.0.0"},
    {IpPreference::kIPv4Preferred, DnsLookupFamily::kV4Preferred, "198.18.0.1", "198.18.0.1", "fd00::1", "127.0.0.1", "::"},
    {IpPreference::kIPv6Preferred, DnsLookupFamily::kAuto, "fd00::1", "198.18.0.1", "fd00::1", "::1", "::"},
    {IpPreference::kIPv4Only, DnsLookupFamily::kV4Only, "198.18.0.1", "198.18.0.1", "", "127.0.0.1", "::"},
    {IpPreference::kIPv6Only, DnsLookupFamily::kV6Only, "fd00::1", "", "fd00::1", "::1", "::"},
};

TEST(IpPreferenceTest, WalkthroughTable) {
  for (const Row& r : kTable) {
    SCOPED_TRACE(toString(r.pref));
    EXPECT_EQ(dnsLookupFamily(r.pref), r.family);
    EXPECT_EQ(cloudMapAddress(r.pref, "198.18.0.1", "fd00::1").value_or(""), r.cloudMapBoth);
    EXPECT_EQ(cloudMapAddress(r.pref, "198.18.0.1", "").value_or(""), r.cloudMapV4Only);
    EXPECT_EQ(cloudMapAddress(r.pref, "", "fd00::1").value_or(""), r.cloudMapV6Only);
    EXPECT_EQ(localAppAddress(r.pref), r.local);
    ListenerBinding b = listenerBinding(r.pref, true);
    EXPECT_EQ(b.address, r.bind);
    EXPECT_EQ(b.ipv4Compat, std::string(r.bind) == "::");
    EXPECT_EQ(parseIpPreference(toString(r.pref)), r.pref);
  }
}

TEST(IpPreferenceTest, NodeOverridesMeshAndGatewayFollowsMesh) {
  json mesh = {{"serviceDiscovery", {{"ipPreference", "IPv6_ONLY"}}}};
  json node = {{"serviceDiscovery", {{"dns", {{"hostname", "h"}, {"ipPreference", "IPv4_PREFERRED"}}}}}};
  json plain = {{"serviceDiscovery", {{"awsCloudMap", {{"namespaceName", "n"}, {"serviceName", "s"}}}}}};
  EXPECT_EQ(effectivePreference(mesh, node), IpPreference::kIPv4Preferred);
  EXPECT_EQ(effectivePreference(mesh, plain), IpPreference::kIPv6Only);
  EXPECT_EQ(effectivePreference(json::object(), plain), IpPreference::kNone);
  EXPECT_EQ(gatewayPreference(mesh), IpPreference::kIPv6Only);
}

TEST(IpPreferenceTest, HostWithoutIpv6DegradesToIpv4Listener) {
  ListenerBinding b = listenerBinding(IpPreference::kIPv6Only, false);
  EXPECT_EQ(b.address, "0.0.0.0");
  EXPECT_FALSE(b.ipv4Compat);
  EXPECT_TRUE(b.degraded);
  EXPECT_FALSE(listenerBinding(IpPreference::kNone, false).degraded);
}

}  // namespace
}  // namespace meshd::model
