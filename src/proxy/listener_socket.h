#pragma once
// Binding a listener exactly as Envoy does: 0.0.0.0 (or any IPv4 address) is IPv4 only; "::" with
// ipv4_compat is one dual-stack socket (IPV6_V6ONLY off); any other IPv6 address is IPv6 only.
// ipv4_compat on an address other than "::" (or a v4-mapped one) is an error, as is an address the
// host cannot bind (no IPv6, in use by someone without SO_REUSEPORT). Main thread; no shared state.

#include <envoy/config/core/v3/address.pb.h>

#include <vector>

#include "common/status.h"

namespace meshd::proxy {

// Checks the address without binding: BadRequest with Envoy-like reasons.
Status validateListenerAddress(const envoy::config::core::v3::SocketAddress& a);

// `count` sockets bound to the address, each with SO_REUSEPORT, non-blocking; the caller owns the
// fds. With `listenNow` false they are bound but not listening (a warming listener refuses
// connections until a worker calls listen()). BadRequest naming the address and errno text when
// any socket cannot be bound.
StatusOr<std::vector<int>> bindListener(const envoy::config::core::v3::SocketAddress& a, size_t count,
                                        bool listenNow = true);

// The local port of a bound socket (tests bind port 0).
int localPort(int fd);

}  // namespace meshd::proxy
