#pragma once
// grpc.health.v1.Health/Check on the wire, for Envoy's gRPC active health check: the request's
// message in its gRPC frame, and the serving status in a response body. The two messages are one
// field each, so they are written and read here by hand rather than through generated protobuf.
// Pure; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meshd::proxy::grpc {

inline constexpr std::string_view kHealthCheckPath = "/grpc.health.v1.Health/Check";

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus : uint32_t { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// A HealthCheckRequest{service} as one uncompressed gRPC length-prefixed message.
std::string healthCheckRequest(std::string_view service);

// The status in a unary response body: exactly one uncompressed, non-empty length-prefixed
// HealthCheckResponse, as Envoy accepts it. nullopt for anything else (no message, two, a
// compressed one, a truncated frame or message).
std::optional<ServingStatus> healthCheckStatus(std::string_view body);

}  // namespace meshd::proxy::grpc
