#include "common/encoding.h"

#include <gtest/gtest.h>

namespace meshd {

TEST(EncodingTest, PercentRoundTrip) {
  std::string raw = "a b/c%d:e";
  EXPECT_EQ(percentEncode(raw), "a%20b%2Fc%25d%3Ae");
  EXPECT_EQ(percentDecode(percentEncode(raw)), raw);
}

TEST(EncodingTest, PercentDecodeRejectsTruncatedEscape) {
  EXPECT_FALSE(percentDecode("abc%4").has_value());
  EXPECT_FALSE(percentDecode("%zz").has_value());
}

TEST(EncodingTest, ParseQueryDecodesPairs) {
  auto q = parseQuery("limit=2&nextToken=a%2Fb&flag");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->at("limit"), "2");
  EXPECT_EQ(q->at("nextToken"), "a/b");
  EXPECT_EQ(q->at("flag"), "");
}

TEST(EncodingTest, Base64UrlRoundTrip) {
  for (const std::string& s : {std::string(), std::string("a"), std::string("ab"), std::string("abc"),
                               std::string("abcd"), std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(s)), s);
  }
  EXPECT_FALSE(base64UrlDecode("a+b").has_value());
}

TEST(EncodingTest, Uuid4HasVersionAndVariant) {
  std::string u = uuid4();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos);
  EXPECT_NE(uuid4(), u);
}

}  // namespace meshd

namespace meshd {
TEST(EncodingTest, FingerprintIsStableAndSensitive) {
  EXPECT_EQ(fingerprint(""), "cbf29ce484222325");
  EXPECT_EQ(fingerprint("a"), "af63dc4c8601ec8c");
  EXPECT_NE(fingerprint("ab"), fingerprint("ba"));
}
}  // namespace meshd
