// The flat HTTP/1.x heads and their parsers: what is accepted (as Beast's parsers), what is invalid
// and what over Envoy's limits, how the body is delimited, and a head written back out.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "proxy/request_head.h"
#include "proxy/response_head.h"

namespace meshd::proxy {
namespace {

constexpr size_t kMaxBytes = 60 * 1024;
constexpr size_t kMaxFields = 100;

Http1HeadParse parse(std::string_view in, ResponseHead& head, bool headRequest = false) {
  return Http1HeadParse::run(in, head, headRequest, kMaxBytes, kMaxFields);
}

Http1HeadParse parse(std::string_view in, RequestHead& head) { return Http1HeadParse::run(in, head, kMaxBytes, kMaxFields); }

template <typename Head>
std::string serialized(const Head& head) {
  std::string out;
  head.serialize(out);
  return out;
}

// Envoy's max_{request,response}_headers_kb and _count defaults, the same for both kinds of head.
template <typename Head>
void expectEnvoysLimits(const std::string& startLine) {
  Head head;
  std::string big = startLine + "x-big: " + std::string(kMaxBytes, 'a');
  EXPECT_EQ(parse(big, head).kind, Http1HeadParse::kTooLarge);  // no end in sight, past the limit
  EXPECT_EQ(parse(big + "\r\n\r\n", head).kind, Http1HeadParse::kTooLarge);
  std::string many = startLine;
  for (size_t i = 0; i < kMaxFields; ++i) many += "f" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(many + "\r\n", head).kind, Http1HeadParse::kDone);
  EXPECT_EQ(parse(many + "one-more: v\r\n\r\n", head).kind, Http1HeadParse::kTooLarge);
}

TEST(HeadTest, EnvoysLimitsOnSizeAndFieldCount) {
  expectEnvoysLimits<ResponseHead>("HTTP/1.1 200 OK\r\n");
  expectEnvoysLimits<RequestHead>("GET / HTTP/1.1\r\n");
  RequestHead head;
  EXPECT_EQ(parse("GET /" + std::string(kMaxBytes, 'a'), head).kind, Http1HeadParse::kTooLarge);  // a long target
}

// Parses `in` followed by its 5-byte body: the head ends where the body starts, which has a length.
template <typename Head>
void parseBefore5ByteBody(const std::string& in, Head& head) {
  auto r = parse(in + "hello", head);
  ASSERT_EQ(r.kind, Http1HeadParse::kDone);
  EXPECT_EQ(r.used, in.size());
  EXPECT_EQ(r.framing, BodyFraming::kLength);
  EXPECT_EQ(r.length, 5u);
  EXPECT_TRUE(r.keepAlive);
  EXPECT_EQ(head.raw(), in);
}

// Names of every length go out lowercase (eight bytes at a time, the last word overlapping), with
// the token characters around the capitals ('@' '[' '`' '{' are not letters) left alone.
TEST(HeadTest, NamesOfAnyLengthGoOutLowercase) {
  RequestHead head;
  std::string names[] = {"A", "Host", "X-Abc", "ETag-Z1", "Accept-R", "Content-Length", "X-Envoy-Upstream-Service-Time",
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "x^_`|~!#$%&'*+-.9AZaz", "Last-Modified"};
  std::string in = "GET / HTTP/1.1\r\n", want = in;
  for (const std::string& n : names) {
    in += n + ": 1\r\n";
    std::string lower;
    for (char c : n) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    want += lower + ": 1\r\n";
  }
  in += "\r\n";
  want += "\r\n";
  ASSERT_EQ(parse(in, head).kind, Http1HeadParse::kDone);
  head.add("X-Added-By-Code", "1");  // added names too
  want.insert(want.size() - 2, "x-added-by-code: 1\r\n");
  EXPECT_EQ(serialized(head), want);
}

// One pass finds several fields in any case and erases those asked, every copy of them.
TEST(HeadTest, SweepFindsAndErasesInOnePass) {
  RequestHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Drop: 1\r\nkeep: 2\r\nx-drop: 3\r\n\r\n", head).kind, Http1HeadParse::kDone);
  static constexpr std::string_view kNames[] = {"absent", "x-drop", "host"};
  EXPECT_EQ(head.sweep(kNames, 0b011), 0b110u);
  EXPECT_EQ(serialized(head), "GET / HTTP/1.1\r\nhost: a\r\nkeep: 2\r\n\r\n");  // names go out lowercase, as Envoy's
  EXPECT_EQ(head.size(), 2u);
  EXPECT_EQ(head.sweep(kNames, 0), 0b100u);
}

TEST(HeadTest, SweepReplacesTheFirstFieldOfANameInPlace) {
  RequestHead head;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-R: 1\r\nkeep: 2\r\nx-r: 3\r\n\r\n", head).kind, Http1HeadParse::kDone);
  static constexpr std::string_view kNames[] = {"x-r", "absent"};
  const std::string_view values[] = {"new", "unused"};
  EXPECT_EQ(head.sweep(kNames, 0, 0b11, values), 0b01u);
  EXPECT_EQ(serialized(head), "GET / HTTP/1.1\r\nhost: a\r\nx-r: new\r\nkeep: 2\r\n\r\n");
  EXPECT_EQ(head.find("x-r"), "new");
}

TEST(HeadTest, AnIncompleteHeadNeedsMore) {
  ResponseHead response;
  for (const char* in : {"", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n", "HTTP/1.1 200 OK\r\n\r"}) {
    EXPECT_EQ(parse(in, response).kind, Http1HeadParse::kNeedMore) << in;
  }
  RequestHead request;
  for (const char* in : {"", "GET / HT", "GET / HTTP/1.1\r\nhost: a\r\n", "GET / HTTP/1.1\r\n\r"}) {
    EXPECT_EQ(parse(in, request).kind, Http1HeadParse::kNeedMore) << in;
  }
}

TEST(ResponseHeadTest, ParsesStatusFieldsAndLengthLeavingTheBody) {
  ResponseHead head;
  parseBefore5ByteBody("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\nX-Empty:\r\nx-pad:  a b \t\r\n\r\n", head);
  EXPECT_EQ(head.status(), 200u);
  EXPECT_EQ(head.version(), 11u);
  EXPECT_EQ(head.reason(), "OK");
  EXPECT_EQ(head.size(), 4u);
  EXPECT_EQ(head.find("server"), "nginx");
  EXPECT_EQ(head.find("X-EMPTY"), "");
  EXPECT_EQ(head.find("x-pad"), "a b");  // surrounding whitespace is not the value's
  EXPECT_EQ(head.find("absent"), std::nullopt);
}

// The field lines follow the same rules in either head.
TEST(HeadTest, MalformedFieldsAreInvalidInEitherHead) {
  const std::vector<std::string> bad = {
      "no colon here\r\n",                              // not a field
      ": empty name\r\n",                               // no name
      "bad name: x\r\n",                                // a space in the name
      "a: b\r\n folded\r\n",                            // obs-fold
      "a: b\nc: d\r\n",                                 // a bare LF
      std::string("a: b\0c\r\n", 8),                     // a NUL in a value
      "a: a long value, \x7f past eight bytes\r\n",     // DEL
      "a: a long value,\ta tab, then \x01\r\n",          // a control after a tab
      "a: a long value with a bare \r inside\r\n",
      "content-length: 1x\r\n",                         // not a number
      "content-length: -1\r\n",
      "content-length: \r\n",                           // empty
      "content-length: 1\r\ncontent-length: 2\r\n",     // two lengths
      "transfer-encoding: chunked\r\ncontent-length: 2\r\n",  // both: smuggling
      "transfer-encoding: chunked, gzip\r\n",           // chunked not last
  };
  for (const std::string& fields : bad) {
    ResponseHead response;
    EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n" + fields + "\r\n", response).kind, Http1HeadParse::kInvalid) << fields;
    RequestHead request;
    EXPECT_EQ(parse("POST / HTTP/1.1\r\n" + fields + "\r\n", request).kind, Http1HeadParse::kInvalid) << fields;
  }
  ResponseHead head;
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nContent-Length: 7\r\n\r\n", head).kind,
            Http1HeadParse::kDone);  // the same length twice is one length
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nx: tabs\tand obs-text \xe2\x82\xac, long enough\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  EXPECT_EQ(head.find("x"), "tabs\tand obs-text \xe2\x82\xac, long enough");
}

TEST(ResponseHeadTest, MalformedStatusLinesAreRefused) {
  for (const char* in : {
           "HTTP/2.0 200 OK\r\n\r\n",  // not HTTP/1.x
           "HTTP/1.1 20 OK\r\n\r\n",   // two digits
           "HTTP/1.1 099 Low\r\n\r\n", // under 100
           "HTTP/1.1 200OK\r\n\r\n",   // no space after the status
           "HTTP/1.1 200 \x01\r\n\r\n", // a control character in the reason
       }) {
    ResponseHead head;
    EXPECT_EQ(parse(in, head).kind, Http1HeadParse::kInvalid) << in;
  }
}

struct FramingCase {
  std::string head;
  bool headRequest;  // a response to a HEAD
  BodyFraming framing;
  bool keepAlive;
};

template <typename Head>
void expectFraming(const std::vector<FramingCase>& cases) {
  for (const auto& c : cases) {
    Head head;
    Http1HeadParse r;
    if constexpr (std::is_same_v<Head, ResponseHead>) {
      r = parse(c.head, head, c.headRequest);
    } else {
      r = parse(c.head, head);
    }
    ASSERT_EQ(r.kind, Http1HeadParse::kDone) << c.head;
    EXPECT_EQ(r.framing, c.framing) << c.head;
    EXPECT_EQ(r.keepAlive, c.keepAlive) << c.head;
  }
}

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
  expectFraming<ResponseHead>(cases);
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
  EXPECT_EQ(serialized(head), "HTTP/1.0 503 Busy Now\r\na: 1\r\nb: 2\r\ncontent-length: 12\r\n\r\n");
}

TEST(ResponseHeadTest, HopByHopFieldsGoTeTrailersStays) {
  ResponseHead head;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nConnection: x\r\nKeep-Alive: 5\r\nProxy-Connection: a\r\nTE: gzip\r\n"
                  "te: trailers\r\nTrailer: t\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\nTEX: 1\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  head.eraseHopByHop();
  EXPECT_EQ(serialized(head), "HTTP/1.1 200 OK\r\nte: trailers\r\ntex: 1\r\n\r\n");
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

TEST(RequestHeadTest, ParsesTheRequestLineAndFieldsLeavingTheBody) {
  RequestHead head;
  parseBefore5ByteBody("POST /a/b?c=d HTTP/1.1\r\nHost: svc:8080\r\nContent-Length: 5\r\nx-pad: \t v \r\n\r\n", head);
  EXPECT_EQ(head.method(), "POST");
  EXPECT_EQ(head.target(), "/a/b?c=d");
  EXPECT_EQ(head.version(), 11u);
  EXPECT_EQ(head.host(), "svc:8080");
  EXPECT_EQ(head.find("X-PAD"), "v");
  EXPECT_EQ(head.size(), 3u);
}

TEST(RequestHeadTest, MalformedRequestLinesAreInvalid) {
  for (const char* in : {
           "GET / HTTP/9.9\r\n\r\n",  // not HTTP/1.x: Envoy's codec answers 400
           "GET / HTTP/2.0\r\n\r\n",
           "GET / HTTP/1.2\r\n\r\n",
           "GET /\r\n\r\n",           // HTTP/0.9
           "GET  HTTP/1.1\r\n\r\n",   // no target
           "GET /a b HTTP/1.1\r\n\r\n",  // a space in the target
           " / HTTP/1.1\r\n\r\n",     // no method
           "G(T / HTTP/1.1\r\n\r\n",  // not a token
           "GET / HTTP/1.1\nhost: a\r\n\r\n",  // a bare LF
           "POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",  // the body's end unknown
       }) {
    RequestHead head;
    EXPECT_EQ(parse(in, head).kind, Http1HeadParse::kInvalid) << in;
  }
}

TEST(RequestHeadTest, BodyFramingAndKeepAlive) {
  expectFraming<RequestHead>({
      {"GET / HTTP/1.1\r\n\r\n", false, BodyFraming::kNone, true},  // no length, no coding: no body
      {"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n", false, BodyFraming::kNone, true},
      {"POST / HTTP/1.1\r\ncontent-length: 12\r\n\r\n", false, BodyFraming::kLength, true},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", false, BodyFraming::kChunked, true},
      {"GET / HTTP/1.1\r\nconnection: Close\r\n\r\n", false, BodyFraming::kNone, false},
      {"GET / HTTP/1.0\r\n\r\n", false, BodyFraming::kNone, false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false, BodyFraming::kNone, true},
  });
}

TEST(RequestHeadTest, EditedHeadIsWrittenAsTheUpstreamRequest) {
  RequestHead head;
  ASSERT_EQ(parse("GET /old HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nX: 1\r\n\r\n", head).kind,
            Http1HeadParse::kDone);
  head.eraseHopByHop();
  head.version(11);
  head.target("/new/path");
  head.set("host", head.find("x").value());  // a value from this very head
  EXPECT_EQ(serialized(head), "GET /new/path HTTP/1.1\r\nx: 1\r\nhost: 1\r\n\r\n");
}

TEST(RequestHeadTest, BuiltFromPartsAsAnHttp2RequestIs) {
  RequestHead head;
  head.method("PUT");
  head.target("/x");
  head.add("host", "svc");
  head.add("content-type", "text/plain");
  EXPECT_EQ(head.host(), "svc");
  EXPECT_EQ(serialized(head), "PUT /x HTTP/1.1\r\nhost: svc\r\ncontent-type: text/plain\r\n\r\n");
  head.clear();
  EXPECT_EQ(head.size(), 0u);
  EXPECT_EQ(head.host(), "");
}

}  // namespace
}  // namespace meshd::proxy
