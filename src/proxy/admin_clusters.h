#pragma once
// GET /clusters as Envoy's admin writes it: text (a line per fact, `cluster::host::name::value`)
// or, with format=json, the admin.v3.Clusters message in proto3 JSON (snake_case names, zero values
// left out, 64-bit counts as strings).

#include <string>

#include "proxy/config.h"

namespace meshd::proxy {

std::string clustersText(const Config& config);
std::string clustersJson(const Config& config);

}  // namespace meshd::proxy
