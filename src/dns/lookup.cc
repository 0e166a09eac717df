// `lookup` (declared in zone.h): the authoritative answer to one question.

#include <algorithm>

#include "dns/name.h"
#include "dns/zone.h"

namespace meshd::dns {
namespace {

// Longer chains are cut short; within meshd's own zones a chain this long is almost surely a loop.
constexpr size_t kMaxCnameChain = 8;

Record soaRecord(const Zone& z, uint32_t ttl) {
  return {z.apex, RecordType::kSoa, kClassIn, ttl,
          SoaData{z.mname, z.rname, z.serial, z.refresh, z.retry, z.expire, z.minimum}};
}

Record nsRecord(const Zone& z) { return {z.apex, RecordType::kNs, kClassIn, z.nsTtl, NsData{z.nsName}}; }

// The addresses of the SRV targets and name servers in the answer, when the zones hold them, so the
// client need not ask again (RFC 2782, RFC 1035 §3.3.11).
void addAdditional(const ZoneSet& zones, Answer& a) {
  std::vector<std::string_view> seen;
  for (const Record& r : a.answers) {
    std::string_view target;
    if (const auto* srv = std::get_if<SrvData>(&r.data)) {
      target = srv->target;
    } else if (const auto* ns = std::get_if<NsData>(&r.data)) {
      target = ns->host;
    } else {
      continue;
    }
    if (std::find(seen.begin(), seen.end(), target) != seen.end()) continue;
    seen.push_back(target);
    for (const Record& t : zones.recordsAt(target)) {
      if (t.type == RecordType::kA || t.type == RecordType::kAaaa) a.additional.push_back(t);
    }
  }
}

}  // namespace

Answer lookup(const ZoneSet& zones, std::string_view qname, RecordType qtype) {
  Answer a;
  std::string name = normalizeName(qname);
  const Zone* zone = zones.zoneFor(name);
  if (zone == nullptr) {
    a.rcode = Rcode::kRefused;
    return a;
  }
  a.authoritative = true;
  std::vector<std::string> visited;
  while (true) {
    visited.push_back(name);
    std::span<const Record> records = zones.recordsAt(name);
    if (qtype != RecordType::kCname && qtype != RecordType::kAny) {
      auto cname = std::find_if(records.begin(), records.end(),
                                [](const Record& r) { return r.type == RecordType::kCname; });
      if (cname != records.end()) {
        a.answers.push_back(*cname);
        const std::string& target = std::get<CnameData>(cname->data).target;
        const Zone* next = zones.zoneFor(target);
        // A target outside the zones is the resolver's to follow. The rcode then describes the last
        // name of the chain (RFC 6604), which is why the loop carries on rather than returning.
        bool loops = std::find(visited.begin(), visited.end(), target) != visited.end();
        if (next == nullptr || loops || visited.size() >= kMaxCnameChain) return a;
        name = target;
        zone = next;
        continue;
      }
    }
    size_t before = a.answers.size();
    bool atApex = name == zone->apex;
    if (atApex && (qtype == RecordType::kSoa || qtype == RecordType::kAny)) {
      a.answers.push_back(soaRecord(*zone, zone->soaTtl));
    }
    if (atApex && (qtype == RecordType::kNs || qtype == RecordType::kAny)) a.answers.push_back(nsRecord(*zone));
    for (const Record& r : records) {
      if (qtype == RecordType::kAny || r.type == qtype) a.answers.push_back(r);
    }
    if (a.answers.size() > before) {
      addAdditional(zones, a);
      return a;
    }
    // Negative answer: NXDOMAIN when the name does not exist at all, NODATA (NOERROR, no answer)
    // when it exists without this type. Either way the SOA tells caches how long to remember it.
    if (!zones.nameExists(name)) a.rcode = Rcode::kNxDomain;
    a.authority.push_back(soaRecord(*zone, std::min(zone->soaTtl, zone->minimum)));
    return a;
  }
}

}  // namespace meshd::dns
