#include "proxy/dns_family.h"

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
  if (!second) {
    out.failed = first.failed;
    if (!first.failed) out.addresses = first.addresses;
    return out;
  }
  out.failed = first.failed && second->failed;
  if (!first.failed) out.addresses = first.addresses;
  if (!second->failed && (f == LookupFamily::kAll || out.addresses.empty())) {
    out.addresses.insert(out.addresses.end(), second->addresses.begin(), second->addresses.end());
  }
  return out;
}

}  // namespace meshd::proxy
