#pragma once
// Where meshproxy's bootstrap comes from: a file (Envoy JSON or YAML-free JSON as `meshctl bootstrap`
// writes it), or the App Mesh Envoy image's environment variables (xds::makeBootstrap). Pure apart
// from reading the file; safe from any thread.

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>

#include <map>
#include <string>

#include "common/status.h"

namespace meshd::proxy {

StatusOr<envoy::config::bootstrap::v3::Bootstrap> parseBootstrapJson(const std::string& json);
StatusOr<envoy::config::bootstrap::v3::Bootstrap> loadBootstrapFile(const std::string& path);
// Unless MESHD_IPV6_AVAILABLE is set, it is filled in from a test socket (can this host bind ::?).
StatusOr<envoy::config::bootstrap::v3::Bootstrap> bootstrapFromEnvironment(const std::map<std::string, std::string>& env);

// Whether an IPv6 socket can be bound here (false on hosts without IPv6).
bool hostHasIpv6();

// The DNS servers clusters resolve with ("host:port", IPv6 hosts in brackets), from the bootstrap's
// typed_dns_resolver_config (c-ares resolvers); empty means the system's.
std::vector<std::string> dnsResolvers(const envoy::config::bootstrap::v3::Bootstrap& b);

// Forces the extension types meshd's resources carry (in Any fields) into the binary, so JSON
// parsing and printing of them works.
void registerExtensionTypes();

}  // namespace meshd::proxy
