#pragma once
// What Envoy's HTTP connection manager writes on every response it sends, proxied or local: `date`
// when the response has none, and `server` as server_header_transformation says (by default
// overwritten with server_name, "envoy"); and what its router writes on a proxied one,
// x-envoy-upstream-service-time. Worker thread only (the date is cached per thread).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/response_head.h"

namespace meshd::proxy {

struct ServerHeader {
  enum Mode { kOverwrite, kAppendIfAbsent, kPassThrough };
  std::string name = "envoy";
  Mode mode = kOverwrite;
};

// Now as an HTTP date (RFC 9110's IMF-fixdate, "Thu, 03 Dec 2026 16:55:00 GMT"), formatted once a
// second per thread.
std::string_view httpDate();

// A proxied response's head, in one pass over its fields: x-envoy-upstream-service-time
// `serviceMs` when there is one (the upstream's own value replaced), date when it has none, server per `server`
// (Envoy overwrites a server field in place; here it moves to the end); and, when `eraseLength`,
// content-length erased for the framing to write again.
void addProxiedResponseHeaders(ResponseHead& head, const ServerHeader& server, std::optional<uint64_t> serviceMs,
                               bool eraseLength);

// A local reply has neither: `add(name, value)` is called for each to write.
template <typename Add>
void addConnectionManagerHeaders(const ServerHeader& server, Add add) {
  add(std::string_view("date"), httpDate());
  if (server.mode != ServerHeader::kPassThrough) add(std::string_view("server"), std::string_view(server.name));
}

}  // namespace meshd::proxy
