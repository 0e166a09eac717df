#pragma once
// One active health check probe of one host, as Envoy's health checkers make it: TCP (connecting is
// passing), HTTP over HTTP/1.1 or HTTP/2 (GET the path; 200 passes), or gRPC
// (grpc.health.v1.Health/Check over HTTP/2; a SERVING status with grpc-status 0 passes). An HTTP/1.1,
// HTTP/2 or gRPC check keeps its connection from probe to probe, as Envoy's (reuse_connection,
// true by default), while the host keeps it open and probes get answers; a TCP probe, which sends
// nothing, closes its connection once made (as Envoy's without send/receive payloads). The check's
// timeout bounds each probe. Runs on the io_context of the coroutine that awaits it
// (the main thread's).

#include <envoy/config/core/v3/health_check.pb.h>

#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <string>

#include "proxy/config.h"
#include "proxy/h2/upstream_pool.h"
#include "proxy/io.h"
#include "proxy/timed_stream.h"

namespace meshd::proxy {

// How a probe went, in Envoy's terms: kFailed is an answer that is not a pass (an HTTP status
// other than 200, a gRPC status other than SERVING), which Envoy takes at once, whatever
// unhealthy_threshold says; kNetworkFailure (no connection, a reset, the timeout) counts toward it.
enum class ProbeResult { kPassed, kFailed, kNetworkFailure };

// The HTTP and gRPC requests carry the check's host or authority, else the cluster's name, as
// :authority / Host (Envoy's default).
// What one host's check keeps between probes, when it may (reuse_connection): its HTTP/1.1
// connection, or the pool that holds its HTTP/2 one.
struct ProbeConnection {
  std::unique_ptr<TimedStream> stream;
  boost::beast::flat_buffer buffer;
  std::unique_ptr<h2::UpstreamPool> h2;
};

Task<ProbeResult> probeHealth(const Host& host, const envoy::config::core::v3::HealthCheck& hc,
                              const std::string& cluster, ProbeConnection& connection);

}  // namespace meshd::proxy
