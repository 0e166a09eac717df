#pragma once
// A cluster's circuit breakers (its default priority's thresholds), with Envoy's defaults: requests
// in flight beyond max_requests overflow (router.cc); HTTP/1.1 and TCP connections stop at
// max_connections, and requests waiting for an HTTP/1.1 connection at max_pending_requests
// (upstream_pool.h, tcp_session.cc); retries under way beyond max_retries are not made (router.cc).

#include <cstdint>

namespace meshd::proxy {

struct CircuitBreakers {
  uint32_t maxRequests = 1024;
  uint32_t maxConnections = 1024;
  uint32_t maxPendingRequests = 1024;
  uint32_t maxRetries = 3;  // retries under way at once (router.cc)
};

}  // namespace meshd::proxy
