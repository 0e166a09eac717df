#include "proxy/retry_policy.h"

#include <algorithm>
#include <string_view>

#include "proxy/duration.h"

namespace meshd::proxy {

namespace {

// gRPC's codes for the retry_on names (grpc/doc/statuscodes.md).
constexpr std::pair<std::string_view, uint32_t> kGrpcOn[] = {
    {"cancelled", 1}, {"deadline-exceeded", 4}, {"resource-exhausted", 8}, {"internal", 13}, {"unavailable", 14}};

}  // namespace

RetryPolicy::RetryPolicy(const envoy::config::route::v3::RouteAction& a) {
  if (!a.has_retry_policy()) return;
  const auto& p = a.retry_policy();
  numRetries = p.has_num_retries() ? p.num_retries().value() : 1;
  hasPolicy_ = true;
  parse(p.retry_on(), true, true);
  if (p.has_retry_back_off()) {
    backOffBase = toMillis(p.retry_back_off().base_interval());
    backOffMax = p.retry_back_off().has_max_interval() ? toMillis(p.retry_back_off().max_interval()) : backOffBase * 10;
  }
  if (p.has_per_try_timeout()) perTry = toMillis(p.per_try_timeout());
}

void RetryPolicy::parse(std::string_view on, bool http, bool grpc) {
  while (!on.empty()) {
    size_t comma = on.find(',');
    std::string_view e = on.substr(0, comma);
    if (http) {
      onConnectFailure_ |= e == "connect-failure" || e == "5xx" || e == "gateway-error";
      on5xx_ |= e == "5xx";
      onGatewayError_ |= e == "gateway-error";
      onReset_ |= e == "reset" || e == "5xx" || e == "gateway-error";
      onRefusedStream_ |= e == "refused-stream";
      on409_ |= e == "retriable-4xx";
    }
    for (const auto& [name, code] : kGrpcOn) {
      if (grpc && e == name) grpcStatuses_ |= 1u << code;
    }
    on = comma == std::string_view::npos ? std::string_view() : on.substr(comma + 1);
  }
}

void RetryPolicy::merge(std::string_view retryOn, std::string_view grpcRetryOn, std::optional<uint32_t> maxRetries) {
  if (!hasPolicy_ && (!retryOn.empty() || !grpcRetryOn.empty())) {
    hasPolicy_ = true;
    numRetries = 1;  // Envoy's default policy's
  }
  parse(retryOn, true, false);
  parse(grpcRetryOn, false, true);
  if (maxRetries && retriesAnything()) numRetries = *maxRetries;
}

std::chrono::milliseconds RetryPolicy::backOff(uint32_t n, uint64_t random) const {
  uint64_t base = static_cast<uint64_t>(backOffBase.count()), max = static_cast<uint64_t>(backOffMax.count());
  if (base == 0) return std::chrono::milliseconds(0);
  // Envoy's JitteredExponentialBackOffStrategy: the interval starts at base and doubles after each
  // retry, becoming max once doubling would pass it; the wait is random modulo the interval.
  uint64_t interval = base;
  for (uint32_t k = 1; k < n && interval < max; ++k) interval = interval < max / 2 ? interval * 2 : max;
  return std::chrono::milliseconds(random % interval);
}

bool RetryPolicy::retriable(const AttemptOutcome& o) const {
  switch (o.kind) {
    case AttemptOutcome::kConnectFailure: return onConnectFailure_;
    // To Envoy's router a malformed response is a reset too; `reset` covers a refused stream.
    case AttemptOutcome::kReset: return onReset_ || (o.refusedStream && onRefusedStream_);
    // As Envoy: the attempt is reset, which only reset, 5xx and gateway-error retry (not
    // connect-failure, refused-stream, retriable-4xx or the gRPC statuses).
    case AttemptOutcome::kPerTryTimeout: return onReset_;
    case AttemptOutcome::kTimeout:
    case AttemptOutcome::kDownstreamReset:
    case AttemptOutcome::kOverflow: return false;
    case AttemptOutcome::kResponse:
      // As Envoy: never a response an upstream Envoy sent for its overload or its rate limit.
      if (o.overloaded) return false;
      if (o.grpcStatus && *o.grpcStatus < 32 && (grpcStatuses_ >> *o.grpcStatus & 1)) return true;
      return (on5xx_ && o.status >= 500) || (onGatewayError_ && o.status >= 502 && o.status <= 504) ||
             (on409_ && o.status == 409);
  }
  return false;
}

}  // namespace meshd::proxy
