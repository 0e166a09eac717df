#pragma once
// meshctl's commands over the Cloud Map registry and static DNS records. Namespaces and services
// are named by name (resolved to their ids here), as people think of them.

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "cli/client.h"

namespace meshd::cli {

struct InstanceSpec {
  std::string ipv4, ipv6, port;
  std::map<std::string, std::string> attributes;  // custom ones, from --attr k=v
};

StatusOr<std::string> namespaceId(const Client& c, const std::string& nameOrId);
StatusOr<std::string> serviceId(const Client& c, const std::string& ns, const std::string& nameOrId);

// type: private, public or http.
StatusOr<nlohmann::json> createNamespace(const Client& c, const std::string& name, const std::string& type,
                                         int64_t soaTtl);
// records: "A", "A,AAAA", "SRV", ... (empty: an API-only service).
StatusOr<nlohmann::json> createService(const Client& c, const std::string& ns, const std::string& name,
                                       const std::string& records, int64_t ttl, bool customHealth);
StatusOr<nlohmann::json> registerInstance(const Client& c, const std::string& ns, const std::string& service,
                                          const std::string& id, const InstanceSpec& spec);

}  // namespace meshd::cli
