#include "proxy/load_balancer.h"

namespace meshd::proxy {

const Host* pickHost(const ClusterView& c, size_t& roundRobin) {
  if (c.hosts.empty()) return nullptr;
  size_t healthy = 0;
  for (const Host& h : c.hosts) healthy += h.healthy() ? 1 : 0;
  bool panic = 100.0 * static_cast<double>(healthy) / static_cast<double>(c.hosts.size()) < c.panicThresholdPercent;
  if (!panic && healthy == 0) return nullptr;
  for (size_t tries = 0; tries < c.hosts.size(); ++tries) {
    const Host& h = c.hosts[roundRobin++ % c.hosts.size()];
    if (panic || h.healthy()) return &h;
  }
  return nullptr;
}

std::string pickWeighted(const std::vector<std::pair<std::string, uint32_t>>& choices, uint64_t random) {
  uint64_t total = 0;
  for (const auto& [name, weight] : choices) total += weight;
  if (total == 0) return choices.empty() ? "" : choices.front().first;
  uint64_t pick = random % total;
  for (const auto& [name, weight] : choices) {
    if (pick < weight) return name;
    pick -= weight;
  }
  return choices.front().first;
}

}  // namespace meshd::proxy
