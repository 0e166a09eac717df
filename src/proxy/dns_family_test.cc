#include "proxy/dns_family.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

const FamilyAnswer kEmpty{false, {}};
const FamilyAnswer kFailed{true, {}};
const FamilyAnswer kV4{false, {"198.18.0.2"}};
const FamilyAnswer kV6{false, {"fd00::2"}};

TEST(DnsFamilyTest, AutoAsksAaaaThenAOnlyWhenNoAddress) {
  EXPECT_EQ(firstQuery(LookupFamily::kAuto), RecordFamily::kAaaa);
  EXPECT_FALSE(secondQuery(LookupFamily::kAuto, kV6));
  EXPECT_EQ(secondQuery(LookupFamily::kAuto, kEmpty), RecordFamily::kA);
  EXPECT_EQ(secondQuery(LookupFamily::kAuto, kFailed), RecordFamily::kA);
  EXPECT_EQ(combine(LookupFamily::kAuto, kV6, std::nullopt), (LookupResult{false, {"fd00::2"}}));
  EXPECT_EQ(combine(LookupFamily::kAuto, kEmpty, kV4), (LookupResult{false, {"198.18.0.2"}}));
}

TEST(DnsFamilyTest, V4PreferredAsksAThenAaaa) {
  EXPECT_EQ(firstQuery(LookupFamily::kV4Preferred), RecordFamily::kA);
  EXPECT_FALSE(secondQuery(LookupFamily::kV4Preferred, kV4));
  EXPECT_EQ(secondQuery(LookupFamily::kV4Preferred, kEmpty), RecordFamily::kAaaa);
  EXPECT_EQ(combine(LookupFamily::kV4Preferred, kEmpty, kV6), (LookupResult{false, {"fd00::2"}}));
}

TEST(DnsFamilyTest, OnlyFamiliesAskOnce) {
  EXPECT_EQ(firstQuery(LookupFamily::kV4Only), RecordFamily::kA);
  EXPECT_EQ(firstQuery(LookupFamily::kV6Only), RecordFamily::kAaaa);
  EXPECT_FALSE(secondQuery(LookupFamily::kV4Only, kEmpty));
  EXPECT_FALSE(secondQuery(LookupFamily::kV6Only, kFailed));
}

TEST(DnsFamilyTest, NoDataIsAnEmptySuccessNotAFailure) {
  EXPECT_EQ(combine(LookupFamily::kV6Only, kEmpty, std::nullopt), (LookupResult{false, {}}));
  EXPECT_EQ(combine(LookupFamily::kAuto, kEmpty, kEmpty), (LookupResult{false, {}}));
}

TEST(DnsFamilyTest, FailsOnlyWhenEveryQueryFailed) {
  EXPECT_EQ(combine(LookupFamily::kV4Only, kFailed, std::nullopt), (LookupResult{true, {}}));
  EXPECT_EQ(combine(LookupFamily::kAuto, kFailed, kFailed), (LookupResult{true, {}}));
  EXPECT_EQ(combine(LookupFamily::kAuto, kFailed, kEmpty), (LookupResult{false, {}}));
}

TEST(DnsFamilyTest, AllAsksBothAndListsV6First) {
  EXPECT_EQ(firstQuery(LookupFamily::kAll), RecordFamily::kAaaa);
  EXPECT_EQ(secondQuery(LookupFamily::kAll, kV6), RecordFamily::kA);
  EXPECT_EQ(combine(LookupFamily::kAll, kV6, kV4), (LookupResult{false, {"fd00::2", "198.18.0.2"}}));
}

// respect_dns_ttl: the next lookup comes after the smallest TTL among the addresses used.
TEST(DnsFamilyTest, RespectDnsTtlRefreshesAfterTheAnswersTtl) {
  using namespace std::chrono_literals;
  FamilyAnswer v6{false, {"fd00::2", "fd00::3"}, 30};
  FamilyAnswer v4{false, {"198.18.0.2"}, 7};
  EXPECT_EQ(combine(LookupFamily::kAll, v6, v4).ttl, 7u);
  EXPECT_EQ(combine(LookupFamily::kAuto, v6, std::nullopt).ttl, 30u);
  EXPECT_EQ(combine(LookupFamily::kAuto, kEmpty, v4).ttl, 7u);  // only the answer used counts
  EXPECT_EQ(nextRefresh(combine(LookupFamily::kAuto, v6, std::nullopt), true, 5000ms), 30000ms);
  EXPECT_EQ(nextRefresh(combine(LookupFamily::kAuto, v6, std::nullopt), false, 5000ms), 5000ms);
  EXPECT_EQ(nextRefresh(combine(LookupFamily::kAuto, kEmpty, std::nullopt), true, 5000ms), 5000ms);  // no TTL
  EXPECT_EQ(nextRefresh(combine(LookupFamily::kAuto, kFailed, std::nullopt), true, 5000ms), 5000ms);
}

}  // namespace
}  // namespace meshd::proxy
