#pragma once
// Envoy's dns_lookup_family semantics as a pure decision: which record types to ask for and in what
// order, and how the answers combine. NXDOMAIN and NODATA are successes with no address.
// Pure; safe from any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshd::proxy {

enum class LookupFamily { kAuto, kV4Preferred, kV4Only, kV6Only, kAll };
enum class RecordFamily { kA, kAaaa };

// The answer to one query: failed (timeout, SERVFAIL, refused...) or a success, maybe empty.
struct FamilyAnswer {
  bool failed = false;
  std::vector<std::string> addresses;
  uint32_t ttl = 0;  // the smallest TTL of the addresses, in seconds (0: none)
};

// The outcome of a whole lookup: failed, or a success with the addresses (maybe none).
struct LookupResult {
  bool failed = false;
  std::vector<std::string> addresses;
  uint32_t ttl = 0;  // the smallest TTL of the addresses used, in seconds (0: none)
  bool operator==(const LookupResult&) const = default;
};

// The first query of a lookup.
RecordFamily firstQuery(LookupFamily f);

// The query to make after the first answered `first`, or nullopt when the lookup is complete.
// AUTO and V4_PREFERRED ask the other family only if the first gave no address or failed; ALL
// always asks both; the _ONLY families never ask a second.
std::optional<RecordFamily> secondQuery(LookupFamily f, const FamilyAnswer& first);

// Combines the answers (the second absent when it was not asked). The lookup fails only if every
// query asked failed; ALL lists the first family's addresses before the second's.
LookupResult combine(LookupFamily f, const FamilyAnswer& first, const std::optional<FamilyAnswer>& second);

// When to resolve again: the result's TTL with respect_dns_ttl (when it has one and succeeded), as
// Envoy does, else the cluster's dns_refresh_rate.
std::chrono::milliseconds nextRefresh(const LookupResult& r, bool respectDnsTtl, std::chrono::milliseconds refreshRate);

}  // namespace meshd::proxy
