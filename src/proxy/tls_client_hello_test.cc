#include "proxy/tls_client_hello.h"

#include <gtest/gtest.h>

#include "proxy/tls_test_util.h"

namespace meshd::proxy {
namespace {

TEST(TlsClientHelloTest, ReadsTheServerName) {
  ClientHello h = parseClientHello(testing::clientHello("S3.us-east-1.AmazonAWS.com"));
  EXPECT_EQ(h.kind, ClientHello::kTls);
  EXPECT_EQ(h.serverName, "s3.us-east-1.amazonaws.com");  // lowercase, as names are matched
}

TEST(TlsClientHelloTest, HelloWithoutServerNameIsTlsWithNone) {
  ClientHello h = parseClientHello(testing::clientHello(""));
  EXPECT_EQ(h.kind, ClientHello::kTls);
  EXPECT_EQ(h.serverName, "");
}

// Until the first record is whole, the inspector waits; any byte that cannot start a hello decides.
TEST(TlsClientHelloTest, NeedsTheWholeFirstRecord) {
  std::string hello = testing::clientHello("api.example.com");
  for (size_t n : {size_t{0}, size_t{1}, size_t{5}, hello.size() - 1}) {
    EXPECT_EQ(parseClientHello(hello.substr(0, n)).kind, ClientHello::kNeedMore) << n;
  }
  EXPECT_EQ(parseClientHello(hello + "more").serverName, "api.example.com");
}

TEST(TlsClientHelloTest, OtherBytesAreNotTls) {
  EXPECT_EQ(parseClientHello("GET / HTTP/1.1\r\n").kind, ClientHello::kNotTls);
  EXPECT_EQ(parseClientHello("\x16").kind, ClientHello::kNeedMore);
  EXPECT_EQ(parseClientHello(std::string("\x16\x02\x00\x00\x10\x01", 6)).kind, ClientHello::kNotTls);  // not 3.x
  EXPECT_EQ(parseClientHello(std::string("\x16\x03\x01\x00\x10\x02", 6)).kind, ClientHello::kNotTls);  // server hello
  std::string hello = testing::clientHello("x.example.com");
  hello[5 + 4 + 2 + 32] = '\x7f';  // a session id longer than the record
  EXPECT_EQ(parseClientHello(hello).kind, ClientHello::kNotTls);
}

}  // namespace
}  // namespace meshd::proxy
