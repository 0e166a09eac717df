#pragma once
// DNS lookups with c-ares against the bootstrap's resolvers, with Envoy's dns_lookup_family
// semantics (dns_family.h). Blocking: one query at a time on the calling thread.
// Thread-safety: an instance belongs to one thread (its c-ares channel is not shared).

#include <ares.h>

#include <chrono>
#include <string>
#include <vector>

#include "proxy/dns_family.h"

namespace meshd::proxy {

class CaresResolver {
 public:
  // `servers`: "host:port" ("[v6]:port"); empty uses the system's resolv.conf.
  CaresResolver(const std::vector<std::string>& servers, std::chrono::milliseconds timeout);
  ~CaresResolver();
  CaresResolver(const CaresResolver&) = delete;
  CaresResolver& operator=(const CaresResolver&) = delete;

  // One query: NXDOMAIN and NODATA are an empty success; timeouts and server failures fail.
  FamilyAnswer query(const std::string& name, RecordFamily family);
  // A whole lookup as Envoy makes it for `family`.
  LookupResult lookup(const std::string& name, LookupFamily family);

 private:
  ares_channel channel_ = nullptr;
  bool ok_ = false;
};

}  // namespace meshd::proxy
