#include "proxy/dns_family.h"

#include <algorithm>

namespace meshd::proxy {

RecordFamily firstQuery(LookupFamily f) {
  switch (f) {
    case LookupFamily::kV4Preferred:
    case LookupFamily::kV4Only:
      return RecordFamily::kA;
    case LookupFamily::kAuto:
    case LookupFamily::kV6Only:
    case LookupFamily::kAll:
      return RecordFamily::kAaaa;
  }
  return RecordFamily::kAaaa;
}

std::optional<RecordFamily> secondQuery(LookupFamily f, const FamilyAnswer& first) {
  switch (f) {
    case LookupFamily::kAuto:
      if (first.failed || first.addresses.empty()) return RecordFamily::kA;
      return std::nullopt;
    case LookupFamily::kV4Preferred:
      if (first.failed || first.addresses.empty()) return RecordFamily::kAaaa;
      return std::nullopt;
    case LookupFamily::kAll:
      return RecordFamily::kA;
    case LookupFamily::kV4Only:
    case LookupFamily::kV6Only:
      return std::nullopt;
  }
  return std::nullopt;
}

LookupResult combine(LookupFamily f, const FamilyAnswer& first, const std::optional<FamilyAnswer>& second) {
  LookupResult out;
  auto use = [&out](const FamilyAnswer& a) {
    if (a.addresses.empty()) return;
    out.addresses.insert(out.addresses.end(), a.addresses.begin(), a.addresses.end());
    out.ttl = out.ttl == 0 ? a.ttl : std::min(out.ttl, a.ttl);
  };
  if (!second) {
    out.failed = first.failed;
    if (!first.failed) use(first);
    return out;
  }
  out.failed = first.failed && second->failed;
  if (!first.failed) use(first);
  if (!second->failed && (f == LookupFamily::kAll || out.addresses.empty())) use(*second);
  return out;
}

std::chrono::milliseconds nextRefresh(const LookupResult& r, bool respectDnsTtl, std::chrono::milliseconds refreshRate) {
  if (respectDnsTtl && !r.failed && r.ttl > 0) return std::chrono::seconds(r.ttl);
  return refreshRate;
}

}  // namespace meshd::proxy
