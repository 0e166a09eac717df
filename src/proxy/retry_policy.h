#pragma once
// A route's retry policy as Envoy's router applies it: which outcomes of an attempt its retry_on
// covers. Envoy's names: connect-failure, reset, 5xx, gateway-error, retriable-4xx (409),
// refused-stream, and the gRPC
// statuses of a trailers-only response (cancelled, deadline-exceeded, internal, resource-exhausted,
// unavailable), which meshd writes for App Mesh's httpRetryEvents/grpcRetryEvents. Pure.

#include <envoy/config/route/v3/route_components.pb.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace meshd::proxy {

// What one attempt came to, as far as retrying goes.
struct AttemptOutcome {
  // kPerTryTimeout: the retry policy's per_try_timeout passed (kTimeout: the route's timeout or
  // its idle timeout, never retried). kOverflow: a circuit breaker dropped it (never retried).
  enum Kind { kResponse, kConnectFailure, kReset, kPerTryTimeout, kTimeout, kDownstreamReset, kOverflow };
  Kind kind = kResponse;
  unsigned status = 0;                  // kResponse: the HTTP status
  std::optional<uint32_t> grpcStatus;   // kResponse: grpc-status in the response head (trailers-only)
  bool refusedStream = false;           // kReset: REFUSED_STREAM (the request was not processed)
  bool overloaded = false;              // kResponse: x-envoy-overloaded or x-envoy-ratelimited
};

struct RetryPolicy {
  uint32_t numRetries = 0;
  std::chrono::milliseconds perTry{0};

  // retry_back_off: Envoy's defaults, 25 ms and ten times that.
  std::chrono::milliseconds backOffBase{25};
  std::chrono::milliseconds backOffMax{250};

  // No retry_policy: no retries.
  explicit RetryPolicy(const envoy::config::route::v3::RouteAction& action);
  bool retriable(const AttemptOutcome& o) const;
  // How long to wait before retry `n` (1 for the first), as Envoy's jittered exponential back-off:
  // `random` modulo an interval that starts at base, doubles each retry and stops at max.
  std::chrono::milliseconds backOff(uint32_t n, uint64_t random) const;

 private:
  bool onConnectFailure_ = false;
  bool on5xx_ = false;
  bool onGatewayError_ = false;
  bool onReset_ = false;
  bool onRefusedStream_ = false;
  bool on409_ = false;
  uint32_t grpcStatuses_ = 0;  // bit n: retry on grpc-status n
};

}  // namespace meshd::proxy
