// The connection manager's date and server on a proxied response, per server_header_transformation.
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
  addConnectionManagerHeaders(kept, ServerHeader{});
  EXPECT_EQ(serialized(kept), "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nserver: envoy\r\n\r\n");
  ResponseHead added = upstreamHead("");
  addConnectionManagerHeaders(added, ServerHeader{});
  EXPECT_EQ(added.find("date"), httpDate());
}

TEST(ResponseHeadersTest, ServerAsTheTransformationSays) {
  auto server = [](ServerHeader::Mode mode, const std::string& fields) {
    ResponseHead head = upstreamHead("date: x\r\n" + fields);
    addConnectionManagerHeaders(head, ServerHeader{"mesh", mode});
    return serialized(head);
  };
  EXPECT_EQ(server(ServerHeader::kOverwrite, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: mesh\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kOverwrite, ""), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: mesh\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kAppendIfAbsent, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nServer: app\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kAppendIfAbsent, ""), "HTTP/1.1 200 OK\r\ndate: x\r\nserver: mesh\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kPassThrough, "Server: app\r\n"), "HTTP/1.1 200 OK\r\ndate: x\r\nServer: app\r\n\r\n");
  EXPECT_EQ(server(ServerHeader::kPassThrough, ""), "HTTP/1.1 200 OK\r\ndate: x\r\n\r\n");
}

}  // namespace
}  // namespace meshd::proxy
