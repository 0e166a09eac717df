#include "proxy/listener_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/config.h"

namespace meshd::proxy {

BoundSockets::~BoundSockets() {
  for (int fd : fds_) ::close(fd);
}

// shutdown(), not close(): a worker may be adopting (dup()ing) these descriptors right now. On a
// listening socket Linux ends the listening, so the port refuses connections at once.
void BoundSockets::stop() {
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

namespace {

std::string describe(const envoy::config::core::v3::SocketAddress& a) {
  bool v6 = a.address().find(':') != std::string::npos;
  return (v6 ? "[" + a.address() + "]" : a.address()) + ":" + std::to_string(a.port_value());
}

bool isV4Mapped(const in6_addr& a) { return IN6_IS_ADDR_V4MAPPED(&a); }

}  // namespace

Status validateListenerAddress(const envoy::config::core::v3::SocketAddress& a) {
  in_addr v4{};
  in6_addr v6{};
  bool isV4 = inet_pton(AF_INET, a.address().c_str(), &v4) == 1;
  bool isV6 = !isV4 && inet_pton(AF_INET6, a.address().c_str(), &v6) == 1;
  if (!isV4 && !isV6) return badRequest("malformed IP address: " + a.address());
  if (a.port_value() > 65535) return badRequest("invalid port " + std::to_string(a.port_value()));
  if (a.ipv4_compat() && !(isV6 && (IN6_IS_ADDR_UNSPECIFIED(&v6) || isV4Mapped(v6)))) {
    return badRequest("ipv4_compat is only valid on ::, not on " + a.address());
  }
  return okStatus();
}

StatusOr<std::vector<int>> bindListener(const envoy::config::core::v3::SocketAddress& a, size_t count, bool listenNow) {
  if (Status s = validateListenerAddress(a); !s.ok()) return s;
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (a.address().find(':') == std::string::npos) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(a.port_value()));
    inet_pton(AF_INET, a.address().c_str(), &sin->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    family = AF_INET6;
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(a.port_value()));
    inet_pton(AF_INET6, a.address().c_str(), &sin6->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  std::vector<int> fds;
  auto fail = [&](const char* what) -> Status {
    std::string reason = std::string("cannot bind ") + describe(a) + ": " + what + ": " + std::strerror(errno);
    for (int fd : fds) ::close(fd);
    return badRequest(reason);
  };
  for (size_t i = 0; i < count; ++i) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    fds.push_back(fd);
    int one = 1;
    int v6only = a.ipv4_compat() ? 0 : 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail("SO_REUSEADDR");
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail("SO_REUSEPORT");
    if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
      return fail("IPV6_V6ONLY");
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
    if (listenNow && ::listen(fd, 1024) != 0) return fail("listen");
    // With port 0 the first socket picks the port; the others join it.
    if (i == 0 && a.port_value() == 0) {
      int port = localPort(fd);
      if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(static_cast<uint16_t>(port));
      else reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(static_cast<uint16_t>(port));
    }
  }
  return fds;
}

int localPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace meshd::proxy
