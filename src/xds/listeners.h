#pragma once
// Listener building blocks: the HTTP connection manager (RDS over ADS, router filter, access log)
// and the TCP proxy, as filters of a listener's filter chain.

#include <envoy/config/listener/v3/listener.pb.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "model/ip_preference.h"

namespace meshd::xds {

// A listener on `binding`:port named lds_<direction>_<address>_<port>; `originalDst` adds the
// listener filter that restores the pre-redirect destination (ingress/egress of a sidecar).
envoy::config::listener::v3::Listener listener(const std::string& direction, const model::ListenerBinding& binding,
                                               uint32_t port, bool originalDst);

// Adds the TLS inspector listener filter: it reads a ClientHello's server name (SNI) so that filter
// chains can match on server_names and transport_protocol "tls".
void addTlsInspector(envoy::config::listener::v3::Listener& l);

// What a filter chain matches beyond the destination port (all optional).
struct ChainMatch {
  uint32_t port = 0;
  std::vector<std::string> serverNames;
  std::string transportProtocol;
};

// A filter chain with an HTTP connection manager reading `routeConfig` over ADS. `logging` is the
// App Mesh spec's logging member (may be null).
void addHttpChain(envoy::config::listener::v3::Listener& l, const std::string& statPrefix,
                  const std::string& routeConfig, const nlohmann::json& logging, uint32_t matchPort = 0);
// A filter chain proxying TCP to `cluster`, or split over weighted (cluster, weight) targets.
void addTcpChain(envoy::config::listener::v3::Listener& l, const std::string& statPrefix, const std::string& cluster,
                 const nlohmann::json& logging, uint32_t matchPort = 0);
void addTcpChain(envoy::config::listener::v3::Listener& l, const std::string& statPrefix,
                 const std::vector<std::pair<std::string, uint32_t>>& targets, const nlohmann::json& logging,
                 uint32_t matchPort = 0);
void addTcpChain(envoy::config::listener::v3::Listener& l, const std::string& statPrefix, const std::string& cluster,
                 const nlohmann::json& logging, const ChainMatch& match);

// The tcp_proxy of `l`'s last filter chain closes a connection idle for `idle` (App Mesh's
// listener timeout.tcp.idle; without it Envoy's default, an hour).
void setTcpIdleTimeout(envoy::config::listener::v3::Listener& l, const google::protobuf::Duration& idle);

}  // namespace meshd::xds
