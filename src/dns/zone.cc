#include "dns/zone.h"

#include <arpa/inet.h>

#include <algorithm>

#include "dns/name.h"

namespace meshd::dns {

const Zone* ZoneSet::zoneFor(std::string_view name) const {
  // Walk from the name up to the root: the first apex met is the longest one.
  for (std::string_view n = name;; n = parentName(n)) {
    auto it = zones_.find(n);
    if (it != zones_.end()) return &it->second;
    if (n.empty()) return nullptr;
  }
}

std::span<const Record> ZoneSet::recordsAt(std::string_view name) const {
  auto it = records_.find(name);
  if (it == records_.end()) return {};
  return it->second;
}

bool ZoneSet::nameExists(std::string_view name) const {
  return zones_.contains(name) || records_.contains(name) || nonTerminals_.contains(name);
}

size_t ZoneSet::recordCount() const {
  size_t n = 0;
  for (const auto& [name, records] : records_) n += records.size();
  return n;
}

ZoneSetBuilder::ZoneSetBuilder() : set_(std::make_unique<ZoneSet>()) {}

Status ZoneSetBuilder::addZone(Zone zone) {
  auto apex = canonicalName(zone.apex);
  if (!apex.ok()) return apex.status();
  if (set_->zones_.contains(*apex)) return conflict("zone " + *apex + " already added");
  zone.apex = *apex;
  if (zone.nsName.empty()) zone.nsName = apex->empty() ? "ns1" : "ns1." + *apex;
  if (zone.mname.empty()) zone.mname = zone.nsName;
  if (zone.rname.empty()) zone.rname = apex->empty() ? "hostmaster" : "hostmaster." + *apex;
  for (std::string* n : {&zone.nsName, &zone.mname, &zone.rname}) {
    auto canonical = canonicalName(*n);
    if (!canonical.ok()) return canonical.status();
    *n = *canonical;
  }
  set_->zones_.emplace(zone.apex, std::move(zone));
  return okStatus();
}

Status ZoneSetBuilder::addA(std::string_view name, std::string_view ipv4, uint32_t ttl) {
  Ipv4 a;
  if (inet_pton(AF_INET, std::string(ipv4).c_str(), a.data()) != 1) {
    return badRequest("invalid IPv4 address '" + std::string(ipv4) + "'");
  }
  return add(name, RecordType::kA, ttl, a);
}

Status ZoneSetBuilder::addAaaa(std::string_view name, std::string_view ipv6, uint32_t ttl) {
  Ipv6 a;
  if (inet_pton(AF_INET6, std::string(ipv6).c_str(), a.data()) != 1) {
    return badRequest("invalid IPv6 address '" + std::string(ipv6) + "'");
  }
  return add(name, RecordType::kAaaa, ttl, a);
}

Status ZoneSetBuilder::addSrv(std::string_view name, uint16_t priority, uint16_t weight, uint16_t port,
                              std::string_view target, uint32_t ttl) {
  auto t = canonicalName(target);
  if (!t.ok()) return t.status();
  return add(name, RecordType::kSrv, ttl, SrvData{priority, weight, port, *t});
}

Status ZoneSetBuilder::addCname(std::string_view name, std::string_view target, uint32_t ttl) {
  auto t = canonicalName(target);
  if (!t.ok()) return t.status();
  return add(name, RecordType::kCname, ttl, CnameData{*t});
}

Status ZoneSetBuilder::add(std::string_view name, RecordType type, uint32_t ttl, Rdata data) {
  auto owner = canonicalName(name);
  if (!owner.ok()) return owner.status();
  const Zone* zone = set_->zoneFor(*owner);
  if (zone == nullptr) return badRequest("name " + *owner + " is in no zone");
  static const std::vector<Record> kNone;
  auto it = set_->records_.find(*owner);
  const std::vector<Record>& existing = it == set_->records_.end() ? kNone : it->second;
  // A CNAME stands alone: nothing else at its name, and never at an apex (which holds SOA and NS).
  bool hasCname = std::any_of(existing.begin(), existing.end(),
                              [](const Record& r) { return r.type == RecordType::kCname; });
  if (type == RecordType::kCname) {
    if (zone->apex == *owner) return conflict("CNAME at the apex of zone " + *owner);
    bool same = existing.size() == 1 && hasCname && existing[0].data == data;
    if (!existing.empty() && !same) return conflict("CNAME at " + *owner + " would share the name with other data");
  } else if (hasCname) {
    return conflict(*owner + " already has a CNAME");
  }
  Record rec{*owner, type, kClassIn, ttl, std::move(data)};
  auto& records = set_->records_[*owner];
  // One TTL per RRset: the lowest given, for the records already there and the new one alike.
  for (const Record& r : records) {
    if (r.type == type) rec.ttl = std::min(rec.ttl, r.ttl);
  }
  bool duplicate = false;
  for (Record& r : records) {
    if (r.type != type) continue;
    r.ttl = rec.ttl;
    duplicate = duplicate || r.data == rec.data;
  }
  if (duplicate) return okStatus();
  records.push_back(std::move(rec));
  return okStatus();
}

std::shared_ptr<const ZoneSet> ZoneSetBuilder::build() {
  auto set = std::move(set_);
  set_ = std::make_unique<ZoneSet>();
  // Empty non-terminals: every name between an owner (or a nested zone's apex) and the apex above it
  // exists too (RFC 8020), so asking for it is NODATA, not NXDOMAIN.
  auto markAncestors = [&](std::string_view name) {
    for (std::string_view n = parentName(name); set->zoneFor(n) != nullptr; n = parentName(n)) {
      if (set->zones_.contains(n) || set->records_.contains(n)) return;
      if (!set->nonTerminals_.emplace(n).second) return;  // its ancestors are marked already
      if (n.empty()) return;
    }
  };
  for (const auto& [owner, records] : set->records_) markAncestors(owner);
  for (const auto& [apex, zone] : set->zones_) {
    if (!apex.empty()) markAncestors(apex);
  }
  return set;
}

}  // namespace meshd::dns
