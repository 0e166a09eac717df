#pragma once
// Host selection as Envoy's load balancers do it, with the healthy panic threshold: when fewer than
// panicThresholdPercent of a cluster's hosts are healthy, every host is eligible. Pure; the round
// robin counter and the random numbers belong to the caller (one counter per worker and cluster),
// and the only shared state read is each host's atomic count of requests in flight.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proxy/config.h"

namespace meshd::proxy {

// The next host, or nullptr when the cluster has none (Envoy's "no healthy upstream").
// With the panic threshold at 0 and no healthy host, also nullptr.
const Host* pickHost(const ClusterView& c, size_t& roundRobin);

// Least request with Envoy's default choice_count of 2 (all weights equal): two eligible hosts
// drawn at random (with replacement, from the two halves of `random`), the one with fewer requests
// in flight wins, the first on a tie. nullptr as pickHost.
const Host* pickLeastRequest(const ClusterView& c, uint64_t random);

// The host the cluster's lb_policy picks.
inline const Host* selectHost(const ClusterView& c, size_t& roundRobin, uint64_t random) {
  return c.lbPolicy == LbPolicy::kLeastRequest ? pickLeastRequest(c, random) : pickHost(c, roundRobin);
}

// One of weighted (name, weight) choices, `random` % total weight into the list; "" when empty. A
// view into `choices`.
std::string_view pickWeighted(const std::vector<std::pair<std::string, uint32_t>>& choices, uint64_t random);

}  // namespace meshd::proxy
