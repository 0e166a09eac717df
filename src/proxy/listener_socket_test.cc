#include "proxy/listener_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace meshd::proxy {
namespace {

envoy::config::core::v3::SocketAddress address(const std::string& a, bool compat) {
  envoy::config::core::v3::SocketAddress s;
  s.set_address(a);
  s.set_port_value(0);
  s.set_ipv4_compat(compat);
  return s;
}

bool hostHasIpv6() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int v6only(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len);
  return v;
}

TEST(ListenerSocketTest, Ipv4CompatOnlyOnTheUnspecifiedAddress) {
  Status s = validateListenerAddress(address("0.0.0.0", true));
  EXPECT_EQ(s.kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(s.message(), "ipv4_compat is only valid on ::, not on 0.0.0.0");
  EXPECT_EQ(validateListenerAddress(address("::1", true)).kind(), ErrorKind::kBadRequest);
  EXPECT_TRUE(validateListenerAddress(address("::", true)).ok());
  EXPECT_EQ(validateListenerAddress(address("not-an-ip", false)).message(), "malformed IP address: not-an-ip");
}

TEST(ListenerSocketTest, BindsOneReusePortSocketPerWorkerOnOnePort) {
  auto fds = bindListener(address("127.0.0.1", false), 3);
  ASSERT_TRUE(fds.ok()) << fds.status().message();
  ASSERT_EQ(fds->size(), 3u);
  int port = localPort((*fds)[0]);
  EXPECT_GT(port, 0);
  for (int fd : *fds) EXPECT_EQ(localPort(fd), port);
  for (int fd : *fds) ::close(fd);
}

TEST(ListenerSocketTest, DualStackOnlyWithIpv4Compat) {
  if (!hostHasIpv6()) GTEST_SKIP() << "no IPv6 on this host";
  auto dual = bindListener(address("::", true), 1);
  ASSERT_TRUE(dual.ok());
  EXPECT_EQ(v6only((*dual)[0]), 0);
  auto only = bindListener(address("::", false), 1);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(v6only((*only)[0]), 1);
  ::close((*dual)[0]);
  ::close((*only)[0]);
}

}  // namespace
}  // namespace meshd::proxy
