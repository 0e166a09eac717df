#pragma once
// Choosing a listener's filter chain for a new connection, as Envoy does for the filter_chain_match
// fields meshd uses. Criteria are applied in Envoy's order: destination port, then server name,
// then transport protocol. At each step the most specific criterion that matches wins and only the
// chains with it go on to the next step; a chain that leaves a field unset matches anything there,
// but only when no chain matches the value itself (there is no falling back to a less specific step
// later). A chain without criteria is therefore the fallback. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/config.h"

namespace meshd::proxy {

// What the listener (and its filters) learned about a connection.
struct ConnectionFacts {
  uint32_t destinationPort = 0;  // the original destination's port
  std::string serverName;        // the TLS inspector's SNI, lowercase; "" when none
  // Envoy's default when no listener filter detected one; the TLS inspector sets "tls".
  std::string transportProtocol = "raw_buffer";
};

// nullptr when no chain matches (Envoy then closes the connection).
const FilterChainView* selectFilterChain(const std::vector<FilterChainView>& chains, const ConnectionFacts& facts);

}  // namespace meshd::proxy
