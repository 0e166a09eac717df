#pragma once
// How a cluster talks to its hosts, from its HttpProtocolOptions (the typed_extension_protocol_options
// entry envoy.extensions.upstreams.http.v3.HttpProtocolOptions, or the deprecated Cluster fields
// when there is none): HTTP/2 or HTTP/1.1, and the common options of each connection.

#include <envoy/config/cluster/v3/cluster.pb.h>

#include <optional>

#include "common/status.h"
#include "proxy/h2/codec.h"
#include "proxy/upstream_options.h"

namespace meshd::proxy {

struct ClusterProtocol {
  // The HTTP/2 settings when the hosts speak HTTP/2 (explicit_http_config's
  // http2_protocol_options), nullopt for HTTP/1.1. auto_config needs ALPN (TLS) and
  // use_downstream_protocol_config a downstream HTTP/2 codec, neither of which meshproxy has: both
  // mean HTTP/1.1 here.
  std::optional<h2::Settings> http2;
  UpstreamOptions options;  // common_http_protocol_options
};

// An error for what Envoy would refuse: an entry that is not HttpProtocolOptions, values out of the
// proto's ranges.
StatusOr<ClusterProtocol> protocolOf(const envoy::config::cluster::v3::Cluster& c);

}  // namespace meshd::proxy
