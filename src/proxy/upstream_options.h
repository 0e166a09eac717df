#pragma once
// What a cluster's common_http_protocol_options (in its HttpProtocolOptions, or the deprecated
// Cluster fields) say of each connection to its hosts, with Envoy's defaults. A connection takes
// them when it is made, as an Envoy connection takes its cluster's at creation.

#include <chrono>
#include <cstdint>

namespace meshd::proxy {

struct UpstreamOptions {
  // How long a connection may carry no request before it closes (Envoy: an hour; 0 configured:
  // never, which is kept here as a year).
  std::chrono::milliseconds idleTimeout{std::chrono::hours(1)};
  // Requests a connection carries before it closes (it drains: no new one starts, the last one
  // finishes); 0: no limit.
  uint32_t maxRequestsPerConnection = 0;
};

}  // namespace meshd::proxy
