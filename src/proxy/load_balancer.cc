#include "proxy/load_balancer.h"

namespace meshd::proxy {

namespace {

// Whether the cluster is in panic (every host eligible); counts the healthy hosts into `healthy`.
bool panicMode(const ClusterView& c, size_t& healthy) {
  healthy = 0;
  for (const Host& h : c.hosts) healthy += h.healthy() ? 1 : 0;
  return 100.0 * static_cast<double>(healthy) / static_cast<double>(c.hosts.size()) < c.panicThresholdPercent;
}

uint64_t active(const Host& h) { return h.stats ? h.stats->rq_active.load(std::memory_order_relaxed) : 0; }

}  // namespace

const Host* pickHost(const ClusterView& c, size_t& roundRobin) {
  if (c.hosts.empty()) return nullptr;
  size_t healthy;
  bool panic = panicMode(c, healthy);
  if (!panic && healthy == 0) return nullptr;
  for (size_t tries = 0; tries < c.hosts.size(); ++tries) {
    const Host& h = c.hosts[roundRobin++ % c.hosts.size()];
    if (panic || h.healthy()) return &h;
  }
  return nullptr;
}

const Host* pickLeastRequest(const ClusterView& c, uint64_t random) {
  if (c.hosts.empty()) return nullptr;
  size_t healthy;
  bool panic = panicMode(c, healthy);
  if (!panic && healthy == 0) return nullptr;
  size_t eligible = panic ? c.hosts.size() : healthy;
  // The n-th eligible host, without building the list (hosts are few; this stays allocation-free).
  auto nth = [&](size_t n) -> const Host& {
    for (const Host& h : c.hosts) {
      if ((panic || h.healthy()) && n-- == 0) return h;
    }
    return c.hosts.front();  // not reached: n < eligible
  };
  const Host& first = nth((random & 0xffffffff) % eligible);
  const Host& second = nth((random >> 32) % eligible);
  return active(second) < active(first) ? &second : &first;
}

std::string_view pickWeighted(const std::vector<std::pair<std::string, uint32_t>>& choices, uint64_t random) {
  uint64_t total = 0;
  for (const auto& [name, weight] : choices) total += weight;
  if (total == 0) return choices.empty() ? std::string_view() : std::string_view(choices.front().first);
  uint64_t pick = random % total;
  for (const auto& [name, weight] : choices) {
    if (pick < weight) return name;
    pick -= weight;
  }
  return choices.front().first;
}

}  // namespace meshd::proxy
