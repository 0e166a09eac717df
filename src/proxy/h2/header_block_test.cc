#include "proxy/h2/header_block.h"

#include <gtest/gtest.h>

namespace meshd::proxy::h2 {
namespace {

std::string str(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

Headers sent(const Headers& h) {
  OutboundHeaders nv(h);
  Headers out;
  for (size_t i = 0; i < nv.size(); ++i) {
    out.emplace_back(str(nv.data()[i].name, nv.data()[i].namelen), str(nv.data()[i].value, nv.data()[i].valuelen));
  }
  return out;
}

TEST(H2HeaderBlockTest, OutboundPutsPseudoHeadersFirstAndLowercases) {
  EXPECT_EQ(sent({{"X-Request-Id", "abc"}, {":status", "200"}, {"Content-Type", "Text/Plain"}}),
            (Headers{{":status", "200"}, {"x-request-id", "abc"}, {"content-type", "Text/Plain"}}));
}

TEST(H2HeaderBlockTest, OutboundDropsConnectionSpecificFields) {
  EXPECT_EQ(sent({{":status", "200"},
                  {"Connection", "close"},
                  {"keep-alive", "timeout=5"},
                  {"proxy-connection", "keep-alive"},
                  {"Transfer-Encoding", "chunked"},
                  {"upgrade", "websocket"},
                  {"te", "gzip"},
                  {"vary", "accept"}}),
            (Headers{{":status", "200"}, {"vary", "accept"}}));
  EXPECT_EQ(sent({{"TE", "Trailers"}}), (Headers{{"te", "Trailers"}}));  // the one te HTTP/2 allows
}

TEST(H2HeaderBlockTest, InboundJoinsCookieCrumbsAtTheEnd) {
  InboundHeaders in;
  HeaderLimits limits;
  ASSERT_TRUE(in.add(":method", "GET", limits));
  ASSERT_TRUE(in.add("cookie", "a=1", limits));
  ASSERT_TRUE(in.add("accept", "*/*", limits));
  ASSERT_TRUE(in.add("cookie", "b=2", limits));
  EXPECT_EQ(in.take(), (Headers{{":method", "GET"}, {"accept", "*/*"}, {"cookie", "a=1; b=2"}}));
  ASSERT_TRUE(in.add("grpc-status", "0", limits));  // the next block starts empty
  EXPECT_EQ(in.take(), (Headers{{"grpc-status", "0"}}));
}

TEST(H2HeaderBlockTest, InboundEnforcesEnvoysLimits) {
  HeaderLimits limits{.maxBytes = 20, .maxCount = 3};
  InboundHeaders bytes;
  EXPECT_TRUE(bytes.add("name", std::string(16, 'v'), limits));  // 20 bytes: at the limit
  EXPECT_FALSE(bytes.add("x", "", limits));
  InboundHeaders count;
  EXPECT_TRUE(count.add("a", "", limits));
  EXPECT_TRUE(count.add("b", "", limits));
  EXPECT_TRUE(count.add("c", "", limits));
  EXPECT_FALSE(count.add("d", "", limits));
}

}  // namespace
}  // namespace meshd::proxy::h2
