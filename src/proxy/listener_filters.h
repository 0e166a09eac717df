#pragma once
// The listener filters meshproxy runs on an accepted connection before choosing its filter chain:
// original_dst (where the app meant to connect, when iptables redirected it here) and tls_inspector
// (whether it speaks TLS, and for which server name). Worker thread only.

#include "proxy/config.h"
#include "proxy/filter_chain_match.h"
#include "proxy/io.h"

namespace meshd::proxy {

// The connection's local address as Envoy sees it: with the original_dst filter, the destination
// the app dialed (SO_ORIGINAL_DST) when the connection was redirected; otherwise the address it
// reached. ORIGINAL_DST clusters connect to it; its port matches destination_port.
boost::asio::ip::tcp::endpoint downstreamLocalAddress(Socket& s, bool originalDst);

// The TLS inspector: peeks (MSG_PEEK, so the bytes stay for the filter chain) at the first bytes
// until they show a ClientHello or something else, and sets facts' transport protocol ("tls" or
// "raw_buffer") and server name. Waits at most the listener's listener_filters_timeout; false when
// the connection should close: the peer closed or failed first, or the time ran out and the listener
// does not continue on timeout (Envoy's default, so a server-first protocol through a listener
// with the inspector waits that long and is closed, as with Envoy).
Task<bool> inspectTls(Socket& s, const ListenerView& l, ConnectionFacts& facts);

}  // namespace meshd::proxy
