// The connection manager's date and server and the router's x-envoy-upstream-service-time on a
// proxied response, per server_header_transformation.
#include "proxy/response_headers.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace meshd::proxy {
namespace {

// An upstream's head with `fields` (CRLF-terminated lines), as parsed from the wire.
ResponseHead upstreamHead(const std::string& fields) {
  ResponseHead head;
  std::string in = "HTTP/1.1 200 OK\r\n" + fields + "\r\n";
  EXPECT_EQ(Http1HeadParse::run(in, head, false, 60 * 1024, 100).kind, Http1HeadParse::kDone);
  return head;
}

std::string serialized(const ResponseHead& head) {
  std::string out;
  head.serialize(out);
  return out;
}

TEST(ResponseHeadersTest, DateIsAddedOnlyWhenMissing) {
  EXPECT_TRUE(std::regex_match(std::string(httpDate()),
                               std::regex("(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")))
      << httpDate();
  ResponseHead kept = upstreamHead("Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n");
  addProxiedResponseHeaders(kept, ServerHeader{}, 7, false);
  EXPECT_EQ(serialized(kept), "HTTP/1.1 200 OK\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\nx-envoy-upstream-service-time: 7\r\nserver: envoy\r\n\r\n");
  ResponseHead added = upstreamHead("");
  addProxiedResponseHeaders(added, ServerHeader{}, 7, false);
  EXPECT_EQ(added.find("date"), httpDate());
}

TEST(ResponseHeadersTest, ServerAsTheTransformationSays) {
  auto server = [](ServerHeader::Mode mode, const std::string& fields) {
    ResponseHead head = upstreamHead("date: x\r\nx-envoy-upstream-service-time: 99\r\n" + fields);
    addProxiedResponseHeaders(head, ServerHeader{"mesh", mode}, 7, false);
    return serialized(head);
  };
  // Overwritten in place, as Envoy's setServer(); names go out in lowercase, as Envoy's codec writes them.
  EXPECT_EQ(server(ServerHeader::kOverwrite, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: mesh\r\nx-envoy-upstream-service-time: 7\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kOverwrite, ""), "HTTP/1.1 200 OK\r\ndate: x\r\nx-envoy-upstream-service-time: 7\r\nserver: mesh\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kAppendIfAbsent, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: app\r\nx-envoy-upstream-service-time: 7\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kAppendIfAbsent, ""), "HTTP/1.1 200 OK\r\ndate: x\r\nx-envoy-upstream-service-time: 7\r\nserver: mesh\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kPassThrough, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: app\r\nx-envoy-upstream-service-time: 7\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kPassThrough, ""), "HTTP/1.1 200 OK\r\ndate: x\r\nx-envoy-upstream-service-time: 7\r\n\r\n");
}

TEST(ResponseHeadersTest, ContentLengthIsErasedOnlyWhenAsked) {
  ResponseHead head = upstreamHead("date: x\r\ncontent-length: 5\r\n");
  addProxiedResponseHeaders(head, ServerHeader{}, 0, false);
  EXPECT_EQ(head.find("content-length"), "5");
  addProxiedResponseHeaders(head, ServerHeader{}, 0, true);
  EXPECT_FALSE(head.find("content-length"));
  EXPECT_EQ(serialized(head), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: envoy\r\nx-envoy-upstream-service-time: 0\r\n\r\n");
}

// As Envoy: a response that came before the request's end says no service time (an upstream's own
// stays).
TEST(ResponseHeadersTest, NoServiceTimeBeforeTheRequestsEnd) {
  ResponseHead head = upstreamHead("date: x\r\nx-envoy-upstream-service-time: 99\r\n");
  addProxiedResponseHeaders(head, ServerHeader{}, std::nullopt, false);
  EXPECT_EQ(serialized(head), "HTTP/1.1 200 OK\r\ndate: x\r\nx-envoy-upstream-service-time: 99\r\nserver: envoy\r\n\r\n");
}

}  // namespace
}  // namespace meshd::proxy
