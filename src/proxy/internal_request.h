#pragma once
// Whether a request is internal, as Envoy's connection manager decides it without
// use_remote_address (meshd's): its x-forwarded-for holds exactly one address, and that address is
// internal (10/8, 172.16/12, 192.168/16, 127.0.0.1, ::1, fc00::/7). Without x-forwarded-for a
// request is external, whoever sent it. Only internal requests keep the x-envoy-* headers that
// steer the router (retries, timeouts); an external one loses them before routing. Pure.

#include <optional>
#include <string_view>

namespace meshd::proxy {

bool isInternalRequest(std::optional<std::string_view> forwardedFor);

}  // namespace meshd::proxy
