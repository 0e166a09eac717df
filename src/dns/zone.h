#pragma once
// The DNS data meshd serves, and the authoritative answer to a question about it.
//
// A ZoneSet is a set of zones and their records, built with ZoneSetBuilder and published whole as an
// immutable snapshot (std::shared_ptr<const ZoneSet>); a new state is a new ZoneSet, never an edit.
// `lookup` answers one question from a snapshot (RFC 1034 §4.3.2; negative answers per RFC 2308).
//
// Names are compared ASCII case-insensitively and a trailing dot is optional everywhere. Wildcards
// are not expanded: a "*" label is an ordinary label.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "dns/record.h"

namespace meshd::dns {

// A zone's apex and the data of its SOA and NS records. Defaults follow Route 53's.
struct Zone {
  std::string apex;    // e.g. "example.local"
  std::string nsName;  // the zone's name server; "ns1.<apex>" when empty
  std::string mname;   // the SOA's primary server; nsName when empty
  std::string rname;   // the SOA's mailbox; "hostmaster.<apex>" when empty
  uint32_t serial = 1;
  uint32_t refresh = 7200;
  uint32_t retry = 900;
  uint32_t expire = 1209600;
  uint32_t minimum = 86400;
  uint32_t soaTtl = 900;
  uint32_t nsTtl = 172800;
};

// Immutable once built: safe to read from any number of threads. Names passed in are canonical
// (lowercase, no trailing dot), as `lookup` makes them.
class ZoneSet {
 public:
  // The zone with the longest apex at or above `name`; nullptr when no zone holds it.
  const Zone* zoneFor(std::string_view name) const;
  // The records owned by `name` (never SOA or NS: those come from the Zone); empty when none.
  std::span<const Record> recordsAt(std::string_view name) const;
  // True when `name` is an apex, owns records, or has a descendant that does (an empty non-terminal).
  bool nameExists(std::string_view name) const;

  size_t zoneCount() const { return zones_.size(); }
  size_t recordCount() const;

 private:
  friend class ZoneSetBuilder;

  std::map<std::string, Zone, std::less<>> zones_;  // by apex; apex and nsName canonical
  std::map<std::string, std::vector<Record>, std::less<>> records_;
  std::set<std::string, std::less<>> nonTerminals_;  // names with descendants but no records
};

// Collects zones and records, checking each as it comes, then publishes them as one ZoneSet.
// Not thread-safe: one builder per thread.
class ZoneSetBuilder {
 public:
  ZoneSetBuilder();

  // Adds a zone. Fails on an invalid name or an apex added before. Add a zone before its records.
  Status addZone(Zone zone);

  // Each adds one record. The owner must lie in a zone already added. Fails (kBadRequest) on an
  // invalid name or address, or (kConflict) when a CNAME would share its name with other data or an
  // apex (RFC 1034 §3.6.2). A record equal to one already present is ignored. Records of one name and
  // type form an RRset whose TTL is the lowest given (RFC 2181 §5.2). Order is kept as added.
  Status addA(std::string_view name, std::string_view ipv4, uint32_t ttl);
  Status addAaaa(std::string_view name, std::string_view ipv6, uint32_t ttl);
  Status addSrv(std::string_view name, uint16_t priority, uint16_t weight, uint16_t port,
                std::string_view target, uint32_t ttl);
  Status addCname(std::string_view name, std::string_view target, uint32_t ttl);

  // Publishes what was added; the builder is left empty for reuse.
  std::shared_ptr<const ZoneSet> build();

 private:
  Status add(std::string_view name, RecordType type, uint32_t ttl, Rdata data);

  std::unique_ptr<ZoneSet> set_;
};

// The outcome of a lookup, before it becomes a message.
struct Answer {
  Rcode rcode = Rcode::kNoError;  // kNoError (with or without data), kNxDomain or kRefused
  bool authoritative = false;     // the question's name is in one of the zones
  std::vector<Record> answers;
  std::vector<Record> authority;   // the SOA, for NXDOMAIN and NODATA
  std::vector<Record> additional;  // addresses of SRV targets and name servers
};

// Answers `qtype` at `name` (any case, trailing dot optional) from `zones`:
// - outside every zone: REFUSED;
// - a name with no records and no descendants: NXDOMAIN, SOA in authority (TTL min(soaTtl, minimum));
// - a name that exists without `qtype` data: NOERROR with no answer and that SOA (NODATA);
// - a CNAME for any other type: the CNAME, followed while its target is in the zones;
// - SOA and NS at an apex from the Zone; SRV and NS with their targets' A/AAAA as additional data;
// - ANY: every record at the name.
Answer lookup(const ZoneSet& zones, std::string_view name, RecordType qtype);

}  // namespace meshd::dns
