#pragma once
// One active health check probe of one host, as Envoy's health checkers make it: TCP (connecting is
// passing), HTTP over HTTP/1.1 or HTTP/2 (GET the path; 200 passes), or gRPC
// (grpc.health.v1.Health/Check over HTTP/2; a SERVING status with grpc-status 0 passes). Each probe
// uses a connection of its own, closed after it; the check's timeout bounds all of it.
// Runs on the io_context of the coroutine that awaits it (the main thread's).

#include <envoy/config/core/v3/health_check.pb.h>

#include <string>

#include "proxy/config.h"
#include "proxy/io.h"

namespace meshd::proxy {

// How a probe went, in Envoy's terms: kFailed is an answer that is not a pass (an HTTP status
// other than 200, a gRPC status other than SERVING), which Envoy takes at once, whatever
// unhealthy_threshold says; kNetworkFailure (no connection, a reset, the timeout) counts toward it.
enum class ProbeResult { kPassed, kFailed, kNetworkFailure };

// The HTTP and gRPC requests carry the check's host or authority, else the cluster's name, as
// :authority / Host (Envoy's default).
Task<ProbeResult> probeHealth(const Host& host, const envoy::config::core::v3::HealthCheck& hc,
                              const std::string& cluster);

}  // namespace meshd::proxy
