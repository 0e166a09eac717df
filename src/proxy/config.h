#pragma once
// The configuration a worker serves requests with: an immutable snapshot built on the main thread
// and published whole (std::shared_ptr<const Config>). Never mutated after publication, so workers
// read it without locks; the only shared mutable state reachable from it is the stats counters,
// which are atomics.

#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/config/route/v3/route.pb.h>

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proxy/circuit_breakers.h"
#include "proxy/duration.h"
#include "proxy/response_headers.h"
#include "proxy/h2/codec.h"
#include "proxy/stats.h"
#include "proxy/upstream_options.h"

namespace meshd::proxy {

class AccessLog;
class OriginalDstHosts;

// Outlier detection's count for one host, shared by every worker's requests to it.
// A host's outlier detection counts (outlier_detector.h), kept by every worker without a lock.
struct HostOutlierState {
  std::atomic<uint32_t> consecutive5xx{0};
  std::atomic<uint32_t> consecutiveGatewayFailure{0};
  std::atomic<uint64_t> requests{0}, successes{0};  // this interval's; the detector takes them
  // The last interval's success rate (percent) where the host had the volume for it, else -1.
  std::atomic<double> successRate{-1};
};

struct Host {
  std::string address;
  uint32_t port = 0;
  boost::asio::ip::tcp::endpoint endpoint;
  bool edsUnhealthy = false;    // the ClusterLoadAssignment said UNHEALTHY/DRAINING/TIMEOUT
  bool failedActiveHc = false;  // the active health check marked it down
  // Not health-checked yet. Envoy counts a new host of an actively checked cluster as failed until
  // its first check, which alone decides (healthy_threshold applies only after that).
  bool pendingActiveHc = false;
  bool ejected = false;         // outlier detection ejected it
  // Discovery no longer lists it, but it passes its health checks: it stays until it fails one
  // (Envoy's pending_dynamic_removal, without ignore_health_on_host_removal).
  bool pendingDynamicRemoval = false;
  std::shared_ptr<HostOutlierState> outlier;  // when the cluster has outlier detection
  std::shared_ptr<HostStats> stats;           // lives across updates of the host; null in unit tests
  std::string hostname;  // the endpoint's, or a DNS cluster's name
  uint32_t weight = 1;   // load_balancing_weight, as /clusters shows it

  bool healthy() const { return !edsUnhealthy && !failedActiveHc && !pendingActiveHc && !ejected; }
  std::string key() const { return address + ":" + std::to_string(port); }
};

enum class LbPolicy { kRoundRobin, kLeastRequest };

struct ClusterView {
  std::string name;
  LbPolicy lbPolicy = LbPolicy::kRoundRobin;
  std::chrono::milliseconds connectTimeout{5000};
  double panicThresholdPercent = 50.0;
  std::vector<Host> hosts;
  std::shared_ptr<ClusterStats> stats;  // lives across updates of the cluster
  CircuitBreakers breakers;
  std::string edsServiceName;  // EDS: the name its endpoints come under (/clusters shows it)
  CircuitBreakers highPriorityBreakers;  // no route of meshd's asks for HIGH: /clusters shows them
  bool outlierDetection = false;
  uint32_t consecutive5xx = 0;  // outlier detection's thresholds; 0 never fires, as Envoy's
  uint32_t consecutiveGatewayFailure = 0;
  // ORIGINAL_DST: no hosts of its own; each connection goes to its downstream connection's original
  // destination (original_dst.h), and `originalDstHosts` remembers them for /clusters.
  bool originalDst = false;
  std::shared_ptr<OriginalDstHosts> originalDstHosts;
  // HTTP/2 (h2c, prior knowledge) to the hosts: typed_extension_protocol_options'
  // envoy.extensions.upstreams.http.v3.HttpProtocolOptions with explicit_http_config's
  // http2_protocol_options (or the deprecated Cluster.http2_protocol_options), and the settings
  // those options give (max_concurrent_streams, initial_stream_window_size,
  // initial_connection_window_size, hpack_table_size, override_stream_error_on_invalid_http_message;
  // Envoy's defaults otherwise).
  bool http2 = false;
  h2::Settings http2Settings;
  UpstreamOptions options;  // common_http_protocol_options: each connection's idle timeout and requests
};

// Listening sockets bound on the main thread, one per worker (SO_REUSEPORT); closed when the last
// snapshot naming them goes. Workers dup() the one they serve.
class BoundSockets {
 public:
  explicit BoundSockets(std::vector<int> fds) : fds_(std::move(fds)) {}
  ~BoundSockets();
  BoundSockets(const BoundSockets&) = delete;
  BoundSockets& operator=(const BoundSockets&) = delete;
  int fd(size_t worker) const { return fds_.at(worker % fds_.size()); }
  size_t size() const { return fds_.size(); }
  // Stops listening (POST /drain_listeners): new connections are refused, and the workers'
  // accepts on their dup()s fail. The descriptors stay open until the snapshots let them go.
  void stop();

 private:
  std::vector<int> fds_;
};

struct FilterChainView {
  std::string name;  // the filter chain's (FILTER_CHAIN_NAME)
  // filter_chain_match, the fields meshd uses (filter_chain_match.h says how a chain is chosen).
  uint32_t destinationPort = 0;  // 0: any
  std::vector<std::string> serverNames;  // exact or "*.suffix", lowercase; empty: any
  std::string transportProtocol;         // "tls", "raw_buffer"; empty: any
  bool http = true;
  std::string routeConfigName;   // http
  // http: how long the listener waits for its route configuration (initial_fetch_timeout).
  std::chrono::milliseconds rdsFetchTimeout{15000};
  std::vector<std::pair<std::string, uint32_t>> tcpClusters;  // tcp proxy: (cluster, weight)
  std::string statPrefix;
  std::shared_ptr<HttpStats> httpStats;  // http: http.<stat_prefix>.*
  std::shared_ptr<TcpStats> tcpStats;    // tcp proxy: tcp.<stat_prefix>.*
  ServerHeader server;                   // http: server_name, server_header_transformation
  // http: common_http_protocol_options.idle_timeout, how long a connection may have no request
  // (Envoy's default: an hour; 0 in the configuration: no limit).
  std::chrono::milliseconds connectionIdleTimeout{std::chrono::hours(1)};
  // http: drain_timeout. A connection that has had a request does not close at its idle timeout
  // but drains, as Envoy's connection manager: it closes this much later (HTTP/2: after a GOAWAY
  // notice, then the final GOAWAY), and a request meanwhile is its last.
  std::chrono::milliseconds drainTimeout{5000};
  // http: http_protocol_options. Without accept_http_10 an HTTP/1.0 request is answered 426 and
  // the connection closed, as Envoy's codec; with it, default_host_for_http_10 is the Host of one
  // that has none.
  bool acceptHttp10 = false;
  std::string defaultHostForHttp10;
  // tcp proxy: idle_timeout, how long both directions may carry no byte before both connections
  // close (Envoy's default: an hour; 0 in the configuration: no limit).
  std::chrono::milliseconds tcpIdleTimeout{std::chrono::hours(1)};
  std::vector<std::shared_ptr<const AccessLog>> accessLogs;
  // What the logs' REQ(...) (beyond RequestLog's own fields) and RESP(...) name, lowercase.
  std::vector<std::string> loggedRequestFields, loggedResponseFields, loggedTrailerFields;
};

struct ListenerView {
  std::string name;
  uint64_t generation = 0;  // changes when the listener is replaced: workers reopen
  std::shared_ptr<const envoy::config::listener::v3::Listener> proto;
  std::vector<FilterChainView> chains;
  bool originalDst = false;
  // The TLS inspector listener filter, and how long listener filters may wait for the first bytes
  // (listener_filters_timeout; 0: no limit) before the connection is closed, or, with
  // continue_on_listener_filters_timeout, matched with what is known.
  bool tlsInspector = false;
  std::chrono::milliseconds listenerFiltersTimeout{15000};
  bool continueOnListenerFiltersTimeout = false;
  std::shared_ptr<BoundSockets> sockets;
  std::shared_ptr<ListenerStats> stats;  // listener.<stat_prefix or address>.*
};

struct Config {
  std::map<std::string, std::shared_ptr<const ListenerView>> listeners;
  // POST /drain_listeners (config_manager.h): listeners stopped (left out of `listeners`; their
  // connections go on undisturbed) and listeners whose connections drain.
  std::set<std::string> stoppedListeners;
  std::set<std::string> drainingListeners;
  std::map<std::string, std::shared_ptr<const envoy::config::route::v3::RouteConfiguration>> routes;
  std::map<std::string, std::shared_ptr<const ClusterView>, std::less<>> clusters;  // found by string_view
};

using ConfigPtr = std::shared_ptr<const Config>;

}  // namespace meshd::proxy
