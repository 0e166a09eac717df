#include "dns/zone.h"

#include <gtest/gtest.h>

#include "dns/test_util.h"

namespace meshd::dns {
namespace {

class LookupTest : public ::testing::Test {
 protected:
  Answer ask(std::string_view name, RecordType type) { return lookup(*zones_, name, type); }

  static void expectNegativeSoa(const Answer& a) {
    ASSERT_EQ(a.authority.size(), 1u);
    EXPECT_EQ(a.authority[0].type, RecordType::kSoa);
    EXPECT_EQ(a.authority[0].name, "example.local");
    EXPECT_EQ(a.authority[0].ttl, 60u) << "min(SOA TTL 900, minimum 60)";
  }

  std::shared_ptr<const ZoneSet> zones_ = testing::exampleZones();
};

TEST_F(LookupTest, AnswersAddressRecords) {
  Answer a = ask("web.example.local", RecordType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNoError);
  EXPECT_TRUE(a.authoritative);
  ASSERT_EQ(a.answers.size(), 2u);
  EXPECT_EQ(a.answers[0].data, Rdata(Ipv4{10, 0, 0, 1}));
  EXPECT_EQ(a.answers[1].data, Rdata(Ipv4{10, 0, 0, 2}));
  EXPECT_TRUE(a.authority.empty());

  Answer v6 = ask("v6.example.local", RecordType::kAaaa);
  ASSERT_EQ(v6.answers.size(), 1u);
  EXPECT_EQ(v6.answers[0].type, RecordType::kAaaa);
}

TEST_F(LookupTest, ExistingNameWithoutTheTypeIsNodata) {
  Answer a = ask("web.example.local", RecordType::kAaaa);
  EXPECT_EQ(a.rcode, Rcode::kNoError);
  EXPECT_TRUE(a.authoritative);
  EXPECT_TRUE(a.answers.empty());
  expectNegativeSoa(a);
  EXPECT_EQ(ask("v6.example.local", RecordType::kA).rcode, Rcode::kNoError);
}

TEST_F(LookupTest, UnknownNameIsNxdomain) {
  Answer a = ask("nope.example.local", RecordType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(a.authoritative);
  EXPECT_TRUE(a.answers.empty());
  expectNegativeSoa(a);
  EXPECT_EQ(ask("x.web.example.local", RecordType::kA).rcode, Rcode::kNxDomain) << "below a leaf";
}

TEST_F(LookupTest, EmptyNonTerminalIsNodata) {
  for (const char* name : {"b.c.example.local", "c.example.local"}) {
    Answer a = ask(name, RecordType::kA);
    EXPECT_EQ(a.rcode, Rcode::kNoError) << name;
    EXPECT_TRUE(a.answers.empty());
    expectNegativeSoa(a);
  }
  EXPECT_EQ(ask("a.b.c.example.local", RecordType::kA).answers.size(), 1u);
}

TEST_F(LookupTest, NameOutsideEveryZoneIsRefused) {
  for (const char* name : {"example.com", "local", "", "xexample.local"}) {
    Answer a = ask(name, RecordType::kA);
    EXPECT_EQ(a.rcode, Rcode::kRefused) << name;
    EXPECT_FALSE(a.authoritative);
    EXPECT_TRUE(a.answers.empty() && a.authority.empty());
  }
}

TEST_F(LookupTest, SrvCarriesTargetAddressesAsAdditional) {
  Answer a = ask("api.example.local", RecordType::kSrv);
  ASSERT_EQ(a.answers.size(), 2u);
  EXPECT_EQ(std::get<SrvData>(a.answers[0].data), (SrvData{1, 10, 8080, "i-1.api.example.local"}));
  ASSERT_EQ(a.additional.size(), 2u) << "the target outside the zones has none";
  EXPECT_EQ(a.additional[0].name, "i-1.api.example.local");
  EXPECT_EQ(a.additional[0].type, RecordType::kA);
  EXPECT_EQ(a.additional[1].type, RecordType::kAaaa);
}

TEST_F(LookupTest, CnameIsFollowedWithinTheZones) {
  Answer a = ask("alias.example.local", RecordType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNoError);
  ASSERT_EQ(a.answers.size(), 3u);
  EXPECT_EQ(a.answers[0].type, RecordType::kCname);
  EXPECT_EQ(a.answers[0].ttl, 30u);
  EXPECT_EQ(a.answers[1].name, "web.example.local");

  Answer nodata = ask("alias.example.local", RecordType::kAaaa);
  EXPECT_EQ(nodata.rcode, Rcode::kNoError);
  EXPECT_EQ(nodata.answers.size(), 1u) << "the CNAME, then no AAAA at its target";
  expectNegativeSoa(nodata);
}

TEST_F(LookupTest, CnameQuestionGetsTheCnameAlone) {
  Answer a = ask("alias.example.local", RecordType::kCname);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(std::get<CnameData>(a.answers[0].data).target, "web.example.local");
}

TEST_F(LookupTest, CnameChainsEndWhereTheZonesEnd) {
  Answer ext = ask("ext.example.local", RecordType::kA);
  EXPECT_EQ(ext.rcode, Rcode::kNoError);
  EXPECT_EQ(ext.answers.size(), 1u);
  EXPECT_TRUE(ext.authority.empty());

  Answer dangling = ask("dangling.example.local", RecordType::kA);
  EXPECT_EQ(dangling.rcode, Rcode::kNxDomain) << "RFC 6604: the rcode is the last name's";
  EXPECT_EQ(dangling.answers.size(), 1u);
  expectNegativeSoa(dangling);

  Answer loop = ask("loop1.example.local", RecordType::kA);
  EXPECT_EQ(loop.rcode, Rcode::kNoError);
  EXPECT_EQ(loop.answers.size(), 2u) << "each CNAME once";
}

TEST_F(LookupTest, ApexAnswersSoaAndNsWithGlue) {
  Answer soa = ask("example.local", RecordType::kSoa);
  ASSERT_EQ(soa.answers.size(), 1u);
  EXPECT_EQ(soa.answers[0].ttl, 900u);
  const auto& data = std::get<SoaData>(soa.answers[0].data);
  EXPECT_EQ(data.mname, "ns1.example.local");
  EXPECT_EQ(data.rname, "hostmaster.example.local");
  EXPECT_EQ(data.minimum, 60u);

  Answer ns = ask("example.local", RecordType::kNs);
  ASSERT_EQ(ns.answers.size(), 1u);
  EXPECT_EQ(std::get<NsData>(ns.answers[0].data).host, "ns1.example.local");
  ASSERT_EQ(ns.additional.size(), 1u);
  EXPECT_EQ(ns.additional[0].data, Rdata(Ipv4{10, 0, 0, 53}));

  Answer a = ask("example.local", RecordType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNoError) << "the apex exists";
  expectNegativeSoa(a);
  EXPECT_EQ(ask("web.example.local", RecordType::kSoa).rcode, Rcode::kNoError);
  EXPECT_TRUE(ask("web.example.local", RecordType::kNs).answers.empty());
}

TEST_F(LookupTest, NamesAreCaseInsensitiveWithOptionalTrailingDot) {
  EXPECT_EQ(ask("WEB.Example.LOCAL.", RecordType::kA).answers.size(), 2u);
  EXPECT_EQ(ask("web.example.local.", RecordType::kA).answers.size(), 2u);
}

TEST_F(LookupTest, AnyReturnsEveryRecordAtTheName) {
  EXPECT_EQ(ask("i-1.api.example.local", RecordType::kAny).answers.size(), 2u);
  EXPECT_EQ(ask("example.local", RecordType::kAny).answers.size(), 2u) << "SOA and NS";
  Answer alias = ask("alias.example.local", RecordType::kAny);
  ASSERT_EQ(alias.answers.size(), 1u);
  EXPECT_EQ(alias.answers[0].type, RecordType::kCname);
}

TEST(ZoneSetTest, LongestApexWins) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  ASSERT_TRUE(b.addZone(testing::zoneAt("Sub.Example.Local.")).ok());
  ASSERT_TRUE(b.addA("x.sub.example.local", "10.0.0.1", 5).ok());
  auto zones = b.build();
  EXPECT_EQ(zones->zoneFor("x.sub.example.local")->apex, "sub.example.local");
  EXPECT_EQ(zones->zoneFor("y.example.local")->apex, "example.local");
  EXPECT_EQ(zones->zoneFor("example.com"), nullptr);
  Answer a = lookup(*zones, "y.sub.example.local", RecordType::kA);
  EXPECT_EQ(a.rcode, Rcode::kNxDomain);
  EXPECT_EQ(a.authority.at(0).name, "sub.example.local");
  EXPECT_EQ(zones->zoneCount(), 2u);
}

TEST(ZoneSetTest, NamesBetweenNestedZonesExist) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  ASSERT_TRUE(b.addZone(testing::zoneAt("a.b.example.local")).ok());
  auto zones = b.build();
  EXPECT_EQ(lookup(*zones, "b.example.local", RecordType::kA).rcode, Rcode::kNoError);
  EXPECT_EQ(lookup(*zones, "c.example.local", RecordType::kA).rcode, Rcode::kNxDomain);
}

TEST(ZoneSetBuilderTest, RejectsBadInput) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  EXPECT_EQ(b.addZone(testing::zoneAt("EXAMPLE.local.")).kind(), ErrorKind::kConflict);
  EXPECT_EQ(b.addZone(testing::zoneAt("a..b")).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.addA("web.example.com", "10.0.0.1", 5).kind(), ErrorKind::kBadRequest) << "in no zone";
  EXPECT_EQ(b.addA("web.example.local", "10.0.0.256", 5).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.addA("web.example.local", "fd00::1", 5).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.addAaaa("web.example.local", "10.0.0.1", 5).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.addA(std::string(64, 'a') + ".example.local", "10.0.0.1", 5).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.addSrv("s.example.local", 0, 0, 80, "bad target.example.local", 5).kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(b.build()->recordCount(), 0u);
}

TEST(ZoneSetBuilderTest, KeepsCnamesAlone) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  ASSERT_TRUE(b.addA("web.example.local", "10.0.0.1", 5).ok());
  EXPECT_EQ(b.addCname("web.example.local", "x.example.local", 5).kind(), ErrorKind::kConflict);
  ASSERT_TRUE(b.addCname("alias.example.local", "web.example.local", 5).ok());
  EXPECT_TRUE(b.addCname("alias.example.local", "web.example.local", 5).ok()) << "the same CNAME again";
  EXPECT_EQ(b.addCname("alias.example.local", "other.example.local", 5).kind(), ErrorKind::kConflict);
  EXPECT_EQ(b.addA("alias.example.local", "10.0.0.1", 5).kind(), ErrorKind::kConflict);
  EXPECT_EQ(b.addCname("example.local", "web.example.local", 5).kind(), ErrorKind::kConflict);
  EXPECT_EQ(b.build()->recordCount(), 2u);
}

TEST(ZoneSetBuilderTest, MergesDuplicatesAndGivesAnRrsetOneTtl) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  ASSERT_TRUE(b.addA("web.example.local", "10.0.0.1", 60).ok());
  ASSERT_TRUE(b.addA("Web.example.local.", "10.0.0.1", 60).ok());
  ASSERT_TRUE(b.addA("web.example.local", "10.0.0.2", 30).ok());
  ASSERT_TRUE(b.addAaaa("web.example.local", "fd00::1", 300).ok());
  auto zones = b.build();
  auto records = zones->recordsAt("web.example.local");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].ttl, 30u);
  EXPECT_EQ(records[1].ttl, 30u);
  EXPECT_EQ(records[2].ttl, 300u);
}

TEST(ZoneSetBuilderTest, BuildLeavesTheBuilderEmptyAndSnapshotsUnchanged) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  ASSERT_TRUE(b.addA("web.example.local", "10.0.0.1", 60).ok());
  auto first = b.build();
  EXPECT_EQ(b.addA("web.example.local", "10.0.0.2", 60).kind(), ErrorKind::kBadRequest) << "no zones any more";
  Zone withNs = testing::zoneAt("example.local");
  withNs.nsName = "dns.example.local";
  ASSERT_TRUE(b.addZone(withNs).ok());
  auto second = b.build();
  EXPECT_EQ(first->recordCount(), 1u);
  EXPECT_EQ(second->recordCount(), 0u);
  EXPECT_EQ(second->zoneFor("example.local")->mname, "dns.example.local");
}

}  // namespace
}  // namespace meshd::dns
