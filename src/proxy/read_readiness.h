#pragma once
// Asio (1.74, Debian 12's Boost) starts every read on a socket with an attempt at once, and stops
// attempting only after a read returned end of stream. A proxy's reads alternate with the peer's
// turn: once a request or a response has been read, the next read nearly always finds nothing, so
// every exchange costs a recv() that fails with EAGAIN before the reactor's wait, on both sides of
// the proxy. HAProxy and Envoy take a read that did not fill its buffer as "drained" and wait for
// the poller before the next. `drained()` tells Asio the same: the next read queues at once, and
// the reactor's next readiness edge for the socket (which re-enables attempts) performs it. Data
// that arrived after the short read also raised that edge (epoll is edge-triggered), so nothing is
// left unread. Not so the peer's FIN when it came with the data of the short read, in the same edge:
// a read that waits for the end of the stream (a body delimited by the connection's close) must
// attempt every read instead (TimedStream::readUntilClosed). Elsewhere (a client's half-close, an
// upstream gone mid-body) rearm() has the reactor report the socket again, which a quiet stream
// does now and then (TimedStream): the pending read then finds the end.
//
// Asio keeps this flag private; the explicit instantiations below are the standard's sanctioned
// way to name a private member (access is not checked there). Pinned to Boost 1.74's epoll reactor.

#include <boost/version.hpp>
#include <boost/asio/detail/epoll_reactor.hpp>

#include <sys/epoll.h>

#include "proxy/io.h"

static_assert(BOOST_VERSION / 100 == 1074, "read_readiness.h reaches into Boost 1.74's epoll reactor");

namespace meshd::proxy {
namespace readiness_detail {

using Reactor = boost::asio::detail::epoll_reactor;
using SocketBase = boost::asio::basic_socket<boost::asio::ip::tcp, Executor>;

struct TryFlags {
  using type = bool (Reactor::descriptor_state::*)[Reactor::max_ops];
};
struct Registered {
  using type = uint32_t Reactor::descriptor_state::*;
};
struct Owner {
  using type = Reactor* Reactor::descriptor_state::*;
};
struct EpollFd {
  using type = int Reactor::*;
};
struct SocketImpl {
  using type = boost::asio::detail::io_object_impl<boost::asio::detail::reactive_socket_service<boost::asio::ip::tcp>,
                                                   Executor> SocketBase::*;
};
template <typename Tag, typename Tag::type M>
struct Reach {
  friend typename Tag::type member(Tag) { return M; }
};
typename TryFlags::type member(TryFlags);
typename SocketImpl::type member(SocketImpl);
typename Registered::type member(Registered);
typename Owner::type member(Owner);
typename EpollFd::type member(EpollFd);
template struct Reach<TryFlags, &Reactor::descriptor_state::try_speculative_>;
template struct Reach<Registered, &Reactor::descriptor_state::registered_events_>;
template struct Reach<Owner, &Reactor::descriptor_state::reactor_>;
template struct Reach<EpollFd, &Reactor::epoll_fd_>;
template struct Reach<SocketImpl, &SocketBase::impl_>;

inline Reactor::descriptor_state* descriptor(Socket& socket) {
  SocketBase& base = socket;
  return (base.*member(SocketImpl{})).get_implementation().reactor_data_;
}

}  // namespace readiness_detail

// The last read on `socket` left it drained: its next read waits for the reactor.
inline void drained(Socket& socket) {
  using namespace readiness_detail;
  if (auto* d = descriptor(socket)) (d->*member(TryFlags{}))[Reactor::read_op] = false;
}

// Undoes drained(): the next read on `socket` is attempted at once.
inline void undrained(Socket& socket) {
  using namespace readiness_detail;
  if (auto* d = descriptor(socket)) (d->*member(TryFlags{}))[Reactor::read_op] = true;
}

// Has the reactor report `socket`'s readiness again, as Asio itself does for an operation it may
// not attempt at once (EPOLL_CTL_MOD re-queues a ready descriptor): a FIN or data that no edge will
// report any more then reaches the read queued for it. One epoll_ctl().
inline void rearm(Socket& socket) {
  using namespace readiness_detail;
  auto* d = descriptor(socket);
  if (!d || d->*member(Registered{}) == 0) return;
  epoll_event ev{};
  ev.events = d->*member(Registered{});
  ev.data.ptr = d;
  ::epoll_ctl((d->*member(Owner{}))->*member(EpollFd{}), EPOLL_CTL_MOD, socket.native_handle(), &ev);
}

// Whether the next read on `socket` is attempted at once (for tests).
inline bool readsAtOnce(Socket& socket) {
  using namespace readiness_detail;
  auto* d = descriptor(socket);
  return d && (d->*member(TryFlags{}))[Reactor::read_op];
}

}  // namespace meshd::proxy
