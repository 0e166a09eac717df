#include "proxy/internal_request.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

TEST(InternalRequestTest, OneInternalForwardedForAddress) {
  EXPECT_FALSE(isInternalRequest(std::nullopt));  // no x-forwarded-for: external, even from loopback
  for (const char* a : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.9", "127.0.0.1", "::1", "fd00::1",
                        "fc12::3", " 10.0.0.1 "}) {
    EXPECT_TRUE(isInternalRequest(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "172.32.0.1", "127.0.0.2", "fe80::1", "2001:db8::1", "10.0.0.1, 10.0.0.2", "",
                        "unknown"}) {
    EXPECT_FALSE(isInternalRequest(a)) << a;
  }
}

}  // namespace
}  // namespace meshd::proxy
