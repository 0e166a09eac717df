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
#include <string_view>

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
  // The client's say, as Envoy's router merges it: x-envoy-retry-on and x-envoy-retry-grpc-on add
  // to retry_on (a request with either and no policy retries once), and x-envoy-max-retries sets
  // the number when anything is retried at all. Empty or absent values: nothing.
  void merge(std::string_view retryOn, std::string_view grpcRetryOn, std::optional<uint32_t> maxRetries);
  bool retriable(const AttemptOutcome& o) const;
  bool retriesAnything() const {
    return onConnectFailure_ || on5xx_ || onGatewayError_ || onReset_ || onRefusedStream_ || on409_ || grpcStatuses_ != 0;
  }
  // How long to wait before retry `n` (1 for the first), as Envoy's jittered exponential back-off:
  // `random` modulo an interval that starts at base, doubles each retry and stops at max.
  std::chrono::milliseconds backOff(uint32_t n, uint64_t random) const;

 private:
  // Adds a retry_on list's HTTP names, gRPC names, or both (Envoy ignores names it does not know).
  void parse(std::string_view list, bool http, bool grpc);

  bool onConnectFailure_ = false;
  bool on5xx_ = false;
  bool onGatewayError_ = false;
  bool onReset_ = false;
  bool onRefusedStream_ = false;
  bool on409_ = false;
  uint32_t grpcStatuses_ = 0;  // bit n: retry on grpc-status n
  bool hasPolicy_ = false;     // the route's, or one the client's headers made
};

}  // namespace meshd::proxy
