#pragma once
// Round robin with Envoy's healthy panic threshold: when fewer than panicThresholdPercent of a
// cluster's hosts are healthy, every host is eligible. Pure; the counter belongs to the caller
// (one per worker and cluster), so no state is shared between threads.

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

// One of weighted (name, weight) choices, `random` % total weight into the list; "" when empty.
std::string pickWeighted(const std::vector<std::pair<std::string, uint32_t>>& choices, uint64_t random);

}  // namespace meshd::proxy
