#pragma once
// Envoy's /config_dump: the bootstrap, the clusters, the endpoints (with ?include_eds), the
// listeners and the route configurations as admin.v3's ConfigDump, printed as Envoy prints it.
// ?resource=<field> lists one repeated field's items instead (dynamic_active_clusters, ...);
// ?mask=<paths> trims each section or item with a FieldMask; ?name_regex=<RE2> keeps the resources
// whose names match.

#include <map>
#include <string>

#include "proxy/admin.h"

namespace meshd::proxy {

AdminResponse configDump(const AdminContext& ctx, const std::map<std::string, std::string>& params);

}  // namespace meshd::proxy
