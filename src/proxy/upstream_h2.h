#pragma once
// One attempt of a request at an HTTP/2 upstream (a cluster with http2_protocol_options): a stream
// on a pooled connection to the host (h2::UpstreamPool), the request head and body sent on it as the
// body arrives, and the response head awaited. upstream.cc's exchange() calls it for such clusters;
// the results are the same as for HTTP/1.1. Worker thread only.

#include "proxy/upstream.h"

namespace meshd::proxy {

Task<UpstreamResult> exchangeH2(const Host& host, const ClusterView& cluster, const RequestHead& head, RequestBody& body,
                                RouteTimeouts& timeouts, h2::UpstreamPool& pool, UpstreamResponse& out);

// The response body of an HTTP/2 upstream's stream, piece by piece, until `deadline`.
// Each piece is bounded by `deadline` and, when `idle` is set, by `idle` from when it was asked for.
std::unique_ptr<BodySource> h2ResponseBody(h2::UpstreamStream& stream, std::chrono::steady_clock::time_point deadline,
                                           std::chrono::milliseconds idle);

}  // namespace meshd::proxy
