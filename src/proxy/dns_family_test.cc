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

}  // namespace
}  // namespace meshd::proxy
