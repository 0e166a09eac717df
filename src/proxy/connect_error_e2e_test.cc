// A connect that fails in the connect() call itself is Envoy's "immediate connect error", with the
// remote address; one the handshake ends with is a "delayed connect error" (proxy_e2e_test.cc).
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proxy/e2e_fixture.h"

namespace meshd::proxy::testing {
namespace {

// The calling thread (and every thread it starts) moves to a network namespace of its own, with
// only its loopback up: 2001:db8::/32 has no route there, so connecting to it fails at once and
// nothing leaves the machine.
bool enterOwnNetworkNamespace() {
  if (::unshare(CLONE_NEWNET) != 0) return false;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = fd >= 0 && ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  up = up && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  if (fd >= 0) ::close(fd);
  return up;
}

// The end-to-end fixture, set up by hand inside the child process that owns the namespace.
class Scenario : public ProxyE2eTest {
 public:
  void TestBody() override {}

  // Listener "l" routes to cluster "far", whose one host is [2001:db8::1]:80.
  bool run() {
    SetUp();
    if (::testing::Test::HasFatalFailure()) return false;
    auto far = staticCluster("far", {80});
    far.mutable_load_assignment()->mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()
        ->mutable_socket_address()->set_address("2001:db8::1");
    set({far}, {httpListener("l", port_, "rc")}, {routeConfig("rc", R"(routes { match { prefix: "/" } route { cluster: "far" } })")});
    HttpReply r = await("/", [](auto& r) { return r.status == 503; });
    std::string stats = admin("/stats");
    TearDown();
    const std::string want =
        "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, "
        "transport failure reason: immediate connect error: Network is unreachable|remote address:[2001:db8::1]:80";
    bool ok = true;
    if (r.body != want) {
      std::fprintf(stderr, "body: %s\n", r.body.c_str());
      ok = false;
    }
    if (stats.find("cluster.far.upstream_cx_connect_fail: 1\n") == std::string::npos) {
      std::fprintf(stderr, "stats: %s\n", stats.c_str());
      ok = false;
    }
    return ok;
  }
};

// Whether this process may make a network namespace (root without CAP_SYS_ADMIN, as in a default
// container, may not) with IPv6 in it: tried in a child, which exits at once.
bool canMakeNetworkNamespace() {
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    bool ok = ::unshare(CLONE_NEWNET) == 0;
    int fd = ok ? ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    std::_Exit(ok && fd >= 0 ? 0 : 1);
  }
  int status = 0;
  return ::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(ImmediateConnectErrorTest, IsEnvoysTextWithTheRemoteAddress) {
  if (!canMakeNetworkNamespace()) GTEST_SKIP() << "no network namespace of the test's own (needs CAP_SYS_ADMIN, and IPv6)";
  // A fresh child process: no thread of it exists before the namespace does.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (!enterOwnNetworkNamespace()) {
          std::fprintf(stderr, "cannot make a network namespace: %s\n", std::strerror(errno));
          std::_Exit(2);
        }
        Scenario s;
        std::_Exit(s.run() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace meshd::proxy::testing
