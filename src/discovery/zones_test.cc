#include "discovery/zones.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace meshd::discovery {
namespace {

using nlohmann::json;

// The walkthrough's Cloud Map registry: red registered over IPv4 only, green over both.
RegistrySnapshot walkthroughRegistry() {
  RegistrySnapshot r;
  r.revision = 7;
  r.namespaces.push_back(json::parse(R"({"Id": "ns-1", "Name": "default.svc.cluster.local.cloud", "Type": "DNS_PRIVATE",
      "Properties": {"DnsProperties": {"SOA": {"TTL": 15}}}})"));
  r.namespaces.push_back(json::parse(R"({"Id": "ns-2", "Name": "api-only", "Type": "HTTP", "Properties": {}})"));
  r.services.push_back(json::parse(R"({"Id": "srv-red", "Name": "colorteller-red", "NamespaceId": "ns-1",
      "DnsConfig": {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 60}]}})"));
  r.services.push_back(json::parse(R"({"Id": "srv-green", "Name": "colorteller-green", "NamespaceId": "ns-1",
      "DnsConfig": {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}, {"Type": "AAAA", "TTL": 40}]}})"));
  r.services.push_back(json::parse(R"({"Id": "srv-srv", "Name": "grpc", "NamespaceId": "ns-1",
      "DnsConfig": {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "SRV", "TTL": 10}]}})"));
  r.instances["srv-red"] = {json::parse(R"({"Id": "t1", "Attributes": {"AWS_INSTANCE_IPV4": "198.18.0.2"}})")};
  r.instances["srv-green"] = {
      json::parse(R"({"Id": "t1", "Attributes": {"AWS_INSTANCE_IPV4": "198.18.0.5", "AWS_INSTANCE_IPV6": "fd00::5"}})"),
      json::parse(R"({"Id": "t2", "Health": "UNHEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "198.18.0.6", "AWS_INSTANCE_IPV6": "fd00::6"}})")};
  r.instances["srv-srv"] = {json::parse(R"({"Id": "task-1", "Attributes": {"AWS_INSTANCE_IPV4": "198.18.0.9", "AWS_INSTANCE_PORT": "9080"}})")};
  r.staticRecords.push_back(json::parse(R"({"Name": "colorteller-red.default.svc.cluster.local.dns", "A": ["198.18.0.2"], "AAAA": [], "TTL": 5})"));
  r.staticRecords.push_back(json::parse(R"({"Name": "colorteller-green.default.svc.cluster.local.dns", "A": ["198.18.0.5"], "AAAA": ["fd00::5"], "TTL": 5})"));
  return r;
}

// Addresses as text; SRV as "port target".
std::string text(const dns::Record& r) {
  char buf[64];
  if (auto* v4 = std::get_if<dns::Ipv4>(&r.data)) return inet_ntop(AF_INET, v4->data(), buf, sizeof buf);
  if (auto* v6 = std::get_if<dns::Ipv6>(&r.data)) return inet_ntop(AF_INET6, v6->data(), buf, sizeof buf);
  if (auto* srv = std::get_if<dns::SrvData>(&r.data)) return std::to_string(srv->port) + " " + srv->target;
  return "?";
}

std::vector<std::string> addresses(const dns::Answer& a) {
  std::vector<std::string> out;
  for (const dns::Record& r : a.answers) out.push_back(text(r));
  return out;
}

class ZonesTest : public ::testing::Test {
 protected:
  std::shared_ptr<const dns::ZoneSet> zones_ = buildZones(walkthroughRegistry());
};

TEST_F(ZonesTest, IPv4OnlyServiceAnswersAAndNodataForAaaa) {
  auto a = dns::lookup(*zones_, "colorteller-red.default.svc.cluster.local.cloud", dns::RecordType::kA);
  EXPECT_EQ(a.rcode, dns::Rcode::kNoError);
  EXPECT_EQ(addresses(a), (std::vector<std::string>{"198.18.0.2"}));
  EXPECT_EQ(a.answers[0].ttl, 60u);
  auto aaaa = dns::lookup(*zones_, "colorteller-red.default.svc.cluster.local.cloud", dns::RecordType::kAaaa);
  EXPECT_EQ(aaaa.rcode, dns::Rcode::kNoError);
  EXPECT_TRUE(aaaa.answers.empty());
  ASSERT_EQ(aaaa.authority.size(), 1u);  // NODATA carries the SOA
}

TEST_F(ZonesTest, UnhealthyInstancesAreLeftOut) {
  auto a = dns::lookup(*zones_, "colorteller-green.default.svc.cluster.local.cloud", dns::RecordType::kAaaa);
  EXPECT_EQ(addresses(a), (std::vector<std::string>{"fd00::5"}));
  EXPECT_EQ(a.answers[0].ttl, 40u);
}

TEST_F(ZonesTest, UnknownNameIsNxdomainAndOutsideIsRefused) {
  EXPECT_EQ(dns::lookup(*zones_, "colorteller-blue.default.svc.cluster.local.cloud", dns::RecordType::kA).rcode,
            dns::Rcode::kNxDomain);
  EXPECT_EQ(dns::lookup(*zones_, "example.com", dns::RecordType::kA).rcode, dns::Rcode::kRefused);
  EXPECT_EQ(dns::lookup(*zones_, "x.api-only", dns::RecordType::kA).rcode, dns::Rcode::kRefused);
}

TEST_F(ZonesTest, SrvPointsAtInstanceNamesWithAddresses) {
  auto srv = dns::lookup(*zones_, "grpc.default.svc.cluster.local.cloud", dns::RecordType::kSrv);
  ASSERT_EQ(srv.answers.size(), 1u);
  EXPECT_NE(text(srv.answers[0]).find("9080 task-1.grpc.default.svc.cluster.local.cloud"), std::string::npos);
  ASSERT_EQ(srv.additional.size(), 1u);
  EXPECT_EQ(text(srv.additional[0]), "198.18.0.9");
}

TEST_F(ZonesTest, StaticRecordsGetAZoneOfTheirOwn) {
  auto a = dns::lookup(*zones_, "colorteller-red.default.svc.cluster.local.dns", dns::RecordType::kA);
  EXPECT_EQ(addresses(a), (std::vector<std::string>{"198.18.0.2"}));
  EXPECT_EQ(a.answers[0].ttl, 5u);
  auto nodata = dns::lookup(*zones_, "colorteller-red.default.svc.cluster.local.dns", dns::RecordType::kAaaa);
  EXPECT_EQ(nodata.rcode, dns::Rcode::kNoError);
  EXPECT_TRUE(nodata.answers.empty());
  auto both = dns::lookup(*zones_, "colorteller-green.default.svc.cluster.local.dns", dns::RecordType::kAaaa);
  EXPECT_EQ(addresses(both), (std::vector<std::string>{"fd00::5"}));
}

TEST(ZonesLimitTest, MultivalueAnswersAtMostEight) {
  RegistrySnapshot r = walkthroughRegistry();
  for (int i = 10; i < 30; ++i) {
    r.instances["srv-red"].push_back({{"Id", "x" + std::to_string(i)},
                                      {"Attributes", {{"AWS_INSTANCE_IPV4", "198.18.1." + std::to_string(i)}}}});
  }
  auto zones = buildZones(r);
  EXPECT_EQ(dns::lookup(*zones, "colorteller-red.default.svc.cluster.local.cloud", dns::RecordType::kA).answers.size(), 8u);
}

}  // namespace
}  // namespace meshd::discovery
