#pragma once
// Envoy's route selection over a RouteConfiguration: the virtual host by Host, the first route whose
// match holds (path prefix / exact / regex, headers, query parameters), the weighted cluster, and the
// path rewrite. Pure functions over the config; safe from any thread (regexes are cached per thread).

#include <envoy/config/route/v3/route.pb.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace meshd::proxy {

// What matching needs of a request. `header` looks a header up by lowercase name.
struct RequestView {
  std::string_view method;
  std::string_view target;  // path and query, as received
  std::string_view host;
  std::function<std::optional<std::string_view>(std::string_view)> header;
};

// Envoy's order: an exact domain, then the longest "*suffix", then the longest "prefix*", then "*".
// Domains compare case-insensitively; "host:port" domains match a Host header carrying that port.
const envoy::config::route::v3::VirtualHost* selectVirtualHost(const envoy::config::route::v3::RouteConfiguration& rc,
                                                               std::string_view host);

// The first route of `vh` that matches, or nullptr.
const envoy::config::route::v3::Route* matchRoute(const envoy::config::route::v3::VirtualHost& vh, const RequestView& r);

// One header matcher against a request (exposed for tests).
bool headerMatches(const envoy::config::route::v3::HeaderMatcher& m, const RequestView& r);

// The cluster of a route action; for weighted clusters the one `random` picks (random % total weight).
// A view into `a`.
std::string_view pickCluster(const envoy::config::route::v3::RouteAction& a, uint64_t random);

// Why Envoy would refuse `rc` (a regex of a route, header or query matcher, or of a regex_rewrite,
// that RE2 does not compile or compiles bigger than `maxProgramSize`, the runtime's
// re2.max_program_size.error_level; weighted clusters whose weights sum to 0), or nullopt. Envoy
// NACKs such a route configuration.
std::optional<std::string> invalidRoutes(const envoy::config::route::v3::RouteConfiguration& rc,
                                         uint64_t maxProgramSize = 100);

// Whether the route rewrites the path (a prefix_rewrite of a prefix match, or a regex_rewrite).
bool rewritesPath(const envoy::config::route::v3::Route& route);

// The request target after the action's prefix_rewrite (or regex_rewrite), given the route matched.
std::string rewriteTarget(const envoy::config::route::v3::Route& route, std::string_view target);

}  // namespace meshd::proxy
