#include "proxy/listener_filters.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

#include "proxy/tls_client_hello.h"

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

namespace {

// A ClientHello split over segments is rare; while part of one is buffered the socket stays
// readable, so the rest is polled for at this interval rather than waited on.
constexpr auto kPartialHelloPoll = std::chrono::milliseconds(5);

// Until the socket is readable (true) or `until` passes (false). One thread runs both handlers;
// `state` tells a timer that fired just as the socket became readable that the wait is over (and
// the socket may be gone).
Task<bool> readableBefore(Socket& s, std::chrono::steady_clock::time_point until) {
  struct State {
    bool done = false;
    bool expired = false;
  };
  auto state = std::make_shared<State>();
  Timer timer(s.get_executor());
  timer.expires_at(until);
  timer.async_wait([&s, state](boost::system::error_code ec) {
    if (ec || state->done) return;
    state->expired = true;
    s.cancel(ec);
  });
  boost::system::error_code ec;
  co_await s.async_wait(tcp::socket::wait_read, into(ec));
  state->done = true;
  timer.cancel();
  co_return !state->expired;
}

}  // namespace

tcp::endpoint downstreamLocalAddress(Socket& s, bool originalDst) {
  if (originalDst) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = s.native_handle();
    if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) == 0 && ss.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
      return {boost::asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)), ntohs(sin->sin_port)};
    }
    len = sizeof ss;
    if (::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) == 0 && ss.ss_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::copy(std::begin(sin6->sin6_addr.s6_addr), std::end(sin6->sin6_addr.s6_addr), bytes.begin());
      return {boost::asio::ip::address_v6(bytes), ntohs(sin6->sin6_port)};
    }
  }
  boost::system::error_code ec;
  auto local = s.local_endpoint(ec);
  return ec ? tcp::endpoint() : local;
}

Task<bool> inspectTls(Socket& s, const ListenerView& l, ConnectionFacts& facts) {
  bool bounded = l.listenerFiltersTimeout.count() > 0;
  auto until = std::chrono::steady_clock::now() + (bounded ? l.listenerFiltersTimeout : std::chrono::hours(24 * 365));
  std::string buf(kMaxClientHelloBytes, '\0');
  Timer poll(s.get_executor());
  for (;;) {
    ssize_t n = ::recv(s.native_handle(), buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) co_return false;  // closed before saying anything
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return false;
    if (n > 0) {
      ClientHello hello = parseClientHello(std::string_view(buf.data(), static_cast<size_t>(n)));
      if (hello.kind != ClientHello::kNeedMore) {
        facts.transportProtocol = hello.kind == ClientHello::kTls ? "tls" : "raw_buffer";
        facts.serverName = hello.serverName;
        co_return true;
      }
    }
    if (std::chrono::steady_clock::now() >= until) {
      if (l.stats) l.stats->downstream_pre_cx_timeout++;
      co_return l.continueOnListenerFiltersTimeout;
    }
    if (n > 0) {
      poll.expires_at(std::min(until, std::chrono::steady_clock::now() + kPartialHelloPoll));
      boost::system::error_code ec;
      co_await poll.async_wait(into(ec));
    } else if (!co_await readableBefore(s, until)) {
      if (l.stats) l.stats->downstream_pre_cx_timeout++;
      co_return l.continueOnListenerFiltersTimeout;
    }
  }
}

}  // namespace meshd::proxy
