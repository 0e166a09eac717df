#pragma once
// The DNS zones meshd serves, built from a registry snapshot (a pure function):
// - every Cloud Map DNS namespace is a zone; each service with a DnsConfig puts its records at
//   <service>.<namespace>: A and AAAA from the instances' AWS_INSTANCE_IPV4/IPV6, SRV pointing at
//   <instance>.<service>.<namespace> (which gets the instance's A/AAAA), CNAME from
//   AWS_INSTANCE_CNAME, each with its DnsRecord's TTL;
// - MULTIVALUE answers with up to 8 healthy instances, WEIGHTED with one; when none is healthy,
//   all count as healthy (as Route 53 does for Cloud Map);
// - static records go into the deepest namespace holding them, else into a zone of their own
//   (the name's parent), so a plain-DNS setup needs no namespace.

#include <memory>

#include "discovery/registry.h"
#include "dns/zone.h"

namespace meshd::discovery {

// Records that cannot be served (an instance id that is not a DNS label, say) are left out and
// counted in `skipped` when given.
std::shared_ptr<const dns::ZoneSet> buildZones(const RegistrySnapshot& registry, size_t* skipped = nullptr);

}  // namespace meshd::discovery
