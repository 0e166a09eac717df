#include "proxy/cluster_protocol.h"

#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>

#include <string>

#include "proxy/duration.h"

namespace meshd::proxy {

namespace {

constexpr const char* kHttpProtocolOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

StatusOr<h2::Settings> settingsOf(const envoy::config::core::v3::Http2ProtocolOptions& options) {
  h2::Settings s;
  // Envoy's proto constraints (protocol.proto's validate rules).
  Status invalid;
  auto take = [&](bool has, const google::protobuf::UInt32Value& v, uint32_t min, const std::string& name,
                  uint32_t& out) {
    if (!has) return true;
    if (v.value() < min || v.value() > 2147483647) {
      invalid = badRequest("http2_protocol_options." + name + " must be in [" + std::to_string(min) + ", 2147483647]");
      return false;
    }
    out = v.value();
    return true;
  };
  if (!take(options.has_max_concurrent_streams(), options.max_concurrent_streams(), 1, "max_concurrent_streams",
            s.maxConcurrentStreams) ||
      !take(options.has_initial_stream_window_size(), options.initial_stream_window_size(), 65535,
            "initial_stream_window_size", s.initialStreamWindow) ||
      !take(options.has_initial_connection_window_size(), options.initial_connection_window_size(), 65535,
            "initial_connection_window_size", s.initialConnectionWindow)) {
    return invalid;
  }
  if (options.has_hpack_table_size()) s.hpackTableSize = options.hpack_table_size().value();
  if (options.has_override_stream_error_on_invalid_http_message()) {
    s.streamErrorOnInvalidHttpMessage = options.override_stream_error_on_invalid_http_message().value();
  }
  return s;
}

void applyCommon(const envoy::config::core::v3::HttpProtocolOptions& common, UpstreamOptions& out) {
  if (common.has_idle_timeout()) {
    out.idleTimeout = toMillis(common.idle_timeout());
    if (out.idleTimeout.count() == 0) out.idleTimeout = std::chrono::hours(24 * 365);  // 0: disabled
  }
  if (common.has_max_requests_per_connection()) out.maxRequestsPerConnection = common.max_requests_per_connection().value();
}

}  // namespace

StatusOr<ClusterProtocol> protocolOf(const envoy::config::cluster::v3::Cluster& c) {
  ClusterProtocol out;
  const envoy::config::core::v3::Http2ProtocolOptions* http2 = nullptr;
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions typed;
  if (auto it = c.typed_extension_protocol_options().find(kHttpProtocolOptions);
      it != c.typed_extension_protocol_options().end()) {
    if (!it->second.UnpackTo(&typed)) {
      return badRequest(std::string("cannot unpack ") + kHttpProtocolOptions + " from " + it->second.type_url());
    }
    if (typed.has_explicit_http_config() && typed.explicit_http_config().has_http2_protocol_options()) {
      http2 = &typed.explicit_http_config().http2_protocol_options();
    }
    applyCommon(typed.common_http_protocol_options(), out.options);
  } else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // Envoy still honours the v3 fields
    if (c.has_http2_protocol_options()) http2 = &c.http2_protocol_options();
    applyCommon(c.common_http_protocol_options(), out.options);
    if (c.has_max_requests_per_connection()) out.options.maxRequestsPerConnection = c.max_requests_per_connection().value();
#pragma GCC diagnostic pop
  }
  if (http2) {
    auto s = settingsOf(*http2);
    if (!s.ok()) return s.status();
    out.http2 = *s;
  }
  return out;
}

}  // namespace meshd::proxy
