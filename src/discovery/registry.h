#pragma once
// A read of the whole registry (Cloud Map namespaces, services, instances, static DNS records) at
// one store revision: what the DNS server's zones and, later, the xDS endpoints are built from.
// A plain value; building it is the only part that touches the store.

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace meshd::discovery {

struct RegistrySnapshot {
  store::Revision revision = 0;
  std::vector<nlohmann::json> namespaces;                         // Cloud Map Namespace shapes
  std::vector<nlohmann::json> services;                           // Cloud Map Service shapes
  std::map<std::string, std::vector<nlohmann::json>> instances;   // by service id, in id order
  std::vector<nlohmann::json> staticRecords;                      // {Name, A, AAAA, TTL}
};

// Reads the registry at the store's current revision (retrying if it moves while reading).
StatusOr<RegistrySnapshot> loadRegistry(store::Store& store);

// Whether an instance counts as healthy for discovery (only custom health checks mark otherwise).
bool isHealthy(const nlohmann::json& instance);

}  // namespace meshd::discovery
