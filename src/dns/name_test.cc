#include "dns/name.h"

#include <gtest/gtest.h>

namespace meshd::dns {
namespace {

TEST(NameTest, SplitsLabelsAndAcceptsOneTrailingDot) {
  auto labels = toLabels("web.Example.local.");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"web", "Example", "local"}));
  EXPECT_TRUE(toLabels("").value().empty());
  EXPECT_TRUE(toLabels(".").value().empty());
  EXPECT_EQ(toLabels("a..b").status().kind(), ErrorKind::kBadRequest);
}

TEST(NameTest, DecodesAndProducesEscapes) {
  auto labels = toLabels(R"(a\.b\032c\\.d)");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"a.b c\\", "d"}));
  std::string text;
  for (const auto& l : *labels) appendLabel(text, l);
  EXPECT_EQ(text, R"(a\.b\032c\\.d)");
  EXPECT_FALSE(toLabels(R"(a\)").ok());
  EXPECT_FALSE(toLabels(R"(a\25)").ok());
  EXPECT_FALSE(toLabels(R"(a\256)").ok());
}

TEST(NameTest, EnforcesLabelAndNameLimits) {
  EXPECT_TRUE(toLabels(std::string(63, 'a')).ok());
  EXPECT_FALSE(toLabels(std::string(64, 'a')).ok());
  std::string name;  // 127 labels "a": 127 * 2 + 1 = 255 bytes on the wire, the most allowed
  for (int i = 0; i < 127; ++i) name += "a.";
  EXPECT_TRUE(toLabels(name).ok());
  EXPECT_FALSE(toLabels("b." + name).ok());
}

TEST(NameTest, CanonicalNameLowercasesAndRejectsOddBytes) {
  EXPECT_EQ(canonicalName("Web.Example.LOCAL.").value(), "web.example.local");
  EXPECT_EQ(canonicalName("_http._tcp.x").value(), "_http._tcp.x");
  EXPECT_FALSE(canonicalName("a b.x").ok());
  EXPECT_FALSE(canonicalName(R"(a\.b)").ok());
}

TEST(NameTest, IsAtOrBelowRespectsLabelBoundariesAndEscapes) {
  EXPECT_TRUE(isAtOrBelow("example.local", "example.local"));
  EXPECT_TRUE(isAtOrBelow("a.example.local", "example.local"));
  EXPECT_TRUE(isAtOrBelow("anything", ""));
  EXPECT_FALSE(isAtOrBelow("badexample.local", "example.local"));
  EXPECT_FALSE(isAtOrBelow(R"(a\.example.local)", "example.local")) << "one label 'a.example', then 'local'";
  EXPECT_TRUE(isAtOrBelow(R"(a\\.example.local)", "example.local")) << "label 'a\\', then the apex";
}

TEST(NameTest, ParentNameSkipsEscapedDots) {
  EXPECT_EQ(parentName("a.b.c"), "b.c");
  EXPECT_EQ(parentName("c"), "");
  EXPECT_EQ(parentName(R"(a\.b.c)"), "c");
  EXPECT_EQ(normalizeName("A.B."), "a.b");
  EXPECT_EQ(normalizeName(R"(a\.)"), R"(a\.)");
}

}  // namespace
}  // namespace meshd::dns
