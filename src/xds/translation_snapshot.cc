// Kept apart from translate.cc so the pure translator does not depend on the snapshot code.
#include "xds/resource_types.h"
#include "xds/translate.h"

namespace meshd::xds {

Snapshot toSnapshot(const Translation& t) {
  Snapshot s;
  auto add = [&](std::string_view type, const std::string& name, const google::protobuf::Message& m) {
    s.resources[std::string(type)][name] = makeResource(name, m);
  };
  for (const auto& c : t.clusters) add(kClusterType, c.name(), c);
  for (const auto& e : t.endpoints) add(kEndpointType, e.cluster_name(), e);
  for (const auto& l : t.listeners) add(kListenerType, l.name(), l);
  for (const auto& r : t.routes) add(kRouteType, r.name(), r);
  return s;
}

}  // namespace meshd::xds
