// ResponseHead and the HTTP/1.x response head parser: what is accepted (as Beast's parser), how the
// body is delimited, and the head written back out.
#include "proxy/response_head.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meshd::proxy {
namespace {

constexpr size_t kMaxBytes = 60 * 1024;
constexpr size_t kMaxFields = 100;

Http1HeadParse parse(std::string_view in, ResponseHead& head, bool headRequest = false) {
  return Http1HeadParse::run(in, head, headRequest, kMaxBytes, kMaxFields);
}

std::string serialized(const ResponseHead& head) {
  std::string out;
  head.serialize(out);
  return out;
}

TEST(ResponseHeadTest, ParsesStatusFieldsAndLengthLeavingTheBody) {
  std::string in = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\nX-Empty:\r\nx-pad:  a b \t\r\n\r\nhello";
  ResponseHead head;
  auto r = parse(in, head);
  ASSERT_EQ(r.kind, Http1HeadParse::kDone);
  EXPECT_EQ(r.used, in.size() - 5);
  EXPECT_EQ(r.framing, BodyFraming::kLength);
  EXPECT_EQ(r.length, 5u);
  EXPECT_TRUE(r.keepAlive);
  EXPECT_EQ(head.status(), 200u);
  EXPECT_EQ(head.version(), 11u);
  EXPECT_EQ(head.reason(), "OK");
  EXPECT_EQ(head.size(), 4u);
  EXPECT_EQ(head.find("server"), "nginx");
  EXPECT_EQ(head.find("X-EMPTY"), "");
  EXPECT_EQ(head.find("x-pad"), "a b");  // surrounding whitespace is not the value's
  EXPECT_EQ(head.find("absent"), std::nullopt);
  EXPECT_EQ(head.raw(), in.substr(0, r.used));
}

TEST(ResponseHeadTest, AnIncompleteHeadNeedsMore) {
  ResponseHead head;
  EXPECT_EQ(parse("", head).kind, Http1HeadParse::kNeedMore);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n", head).kind, Http1HeadParse::kNeedMore);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n\r", head).kind, Http1HeadParse::kNeedMore);
}

TEST(ResponseHeadTest, MalformedHeadsAreRefused) {
  const std::vector<std::string> bad = {
      "HTTP/2.0 200 OK\r\n\r\n",                          // not HTTP/1.x
      "HTTP/1.1 20 OK\r\n\r\n",                           // two digits
      "HTTP/1.1 099 Low\r\n\r\n",                         // under 100
      "HTTP/1.1 200OK\r\n\r\n",                           // no space after the status
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",         // not a field
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",          // no name
      "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",           // a space in the name
      "HTTP/1.1 200 OK\r\na: b\r\n folded\r\n\r\n",       // obs-fold
      "HTTP/1.1 200 OK\r\na: b\nc: d\r\n\r\n",            // a bare LF
      std::string("HTTP/1.1 200 OK\r\na: b\0c\r\n\r\n", 27),  // a NUL in a value
      "HTTP/1.1 200 OK\r\na: a long value, \x7f past eight bytes\r\n\r\n",  // DEL
      "HTTP/1.1 200 OK\r\na: a long value,\ta tab, then \x01\r\n\r\n",   // a control after a tab
      "HTTP/1.1 200 OK\r\na: a long value with a bare \r inside\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",    // not a number
      "HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",      // empty
      "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",      // two lengths
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n",  // both
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n",  // chunked not last
  };
  for (const std::string& in : bad) {
    ResponseHead head;
    EXPECT_EQ(parse(in, head).kind, Http1HeadParse::kInvalid) << in;
  }
  ResponseHead head;
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nContent-Length: 7\r\n\r\n", head).kind,
            Http1HeadParse::kDone);  // the same length twice is one length
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nx: tabs\tand obs-text \xe2\x82\xac, long enough\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  EXPECT_EQ(head.find("x"), "tabs\tand obs-text \xe2\x82\xac, long enough");
}

TEST(ResponseHeadTest, EnvoysLimitsOnSizeAndFieldCount) {
  ResponseHead head;
  std::string big = "HTTP/1.1 200 OK\r\nx-big: " + std::string(kMaxBytes, 'a');
  EXPECT_EQ(parse(big, head).kind, Http1HeadParse::kInvalid);  // no end in sight, past the limit
  EXPECT_EQ(parse(big + "\r\n\r\n", head).kind, Http1HeadParse::kInvalid);
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (size_t i = 0; i < kMaxFields; ++i) many += "f" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(many + "\r\n", head).kind, Http1HeadParse::kDone);
  EXPECT_EQ(parse(many + "one-more: v\r\n\r\n", head).kind, Http1HeadParse::kInvalid);
}

struct FramingCase {
  std::string head;
  bool headRequest;
  BodyFraming framing;
  bool keepAlive;
};

TEST(ResponseHeadTest, BodyFramingAndKeepAliveFollowRfc9112) {
  const std::vector<FramingCase> cases = {
      {"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", false, BodyFraming::kLength, true},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", false, BodyFraming::kChunked, true},
      {"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", false, BodyFraming::kClose, false},
      {"HTTP/1.1 200 OK\r\n\r\n", false, BodyFraming::kClose, false},  // ends with the connection
      {"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", true, BodyFraming::kNone, true},  // to a HEAD
      {"HTTP/1.1 204 No Content\r\n\r\n", false, BodyFraming::kNone, true},
      {"HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n", false, BodyFraming::kNone, true},
      {"HTTP/1.1 100 Continue\r\n\r\n", false, BodyFraming::kNone, true},
      {"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", false, BodyFraming::kLength, false},
      {"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n", false, BodyFraming::kLength, false},
      {"HTTP/1.0 200 OK\r\nconnection: x, keep-alive\r\ncontent-length: 0\r\n\r\n", false, BodyFraming::kLength, true},
  };
  for (const auto& c : cases) {
    ResponseHead head;
    auto r = parse(c.head, head, c.headRequest);
    ASSERT_EQ(r.kind, Http1HeadParse::kDone) << c.head;
    EXPECT_EQ(r.framing, c.framing) << c.head;
    EXPECT_EQ(r.keepAlive, c.keepAlive) << c.head;
  }
}

TEST(ResponseHeadTest, EditedHeadIsWrittenInOrderWithItsReason) {
  ResponseHead head;
  ASSERT_EQ(parse("HTTP/1.1 503 Busy Now\r\nConnection: keep-alive\r\nA: 1\r\nTransfer-Encoding: chunked\r\nB: 2\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  head.erase("connection");
  head.erase("TRANSFER-ENCODING");
  head.add("content-length", "12");
  head.version(10);
  EXPECT_EQ(head.size(), 3u);
  EXPECT_EQ(serialized(head), "HTTP/1.0 503 Busy Now\r\nA: 1\r\nB: 2\r\ncontent-length: 12\r\n\r\n");
}

TEST(ResponseHeadTest, HopByHopFieldsGoTeTrailersStays) {
  ResponseHead head;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nConnection: x\r\nKeep-Alive: 5\r\nProxy-Connection: a\r\nTE: gzip\r\n"
                  "te: trailers\r\nTrailer: t\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\nTEX: 1\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  head.eraseHopByHop();
  EXPECT_EQ(serialized(head), "HTTP/1.1 200 OK\r\nte: trailers\r\nTEX: 1\r\n\r\n");
  EXPECT_EQ(head.size(), 2u);
}

TEST(ResponseHeadTest, BuiltHeadGetsTheStandardReason) {
  ResponseHead head;
  head.status(404);
  head.add("x", "y");
  EXPECT_EQ(serialized(head), "HTTP/1.1 404 Not Found\r\nx: y\r\n\r\n");
  head.clear();
  EXPECT_EQ(head.size(), 0u);
  head.status(200);
  EXPECT_EQ(serialized(head), "HTTP/1.1 200 OK\r\n\r\n");
}

}  // namespace
}  // namespace meshd::proxy
