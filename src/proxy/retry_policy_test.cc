#include "proxy/retry_policy.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

RetryPolicy policy(const std::string& on, uint32_t retries = 2) {
  envoy::config::route::v3::RouteAction a;
  a.mutable_retry_policy()->set_retry_on(on);
  a.mutable_retry_policy()->mutable_num_retries()->set_value(retries);
  return RetryPolicy(a);
}

AttemptOutcome response(unsigned status, std::optional<uint32_t> grpc = std::nullopt) {
  return {AttemptOutcome::kResponse, status, grpc, false};
}
AttemptOutcome reset(bool refused) { return {AttemptOutcome::kReset, 0, std::nullopt, refused}; }

TEST(RetryPolicyTest, NoPolicyNoRetries) {
  RetryPolicy p{envoy::config::route::v3::RouteAction()};
  EXPECT_EQ(p.numRetries, 0u);
  EXPECT_FALSE(p.retriable(response(503)));
}

TEST(RetryPolicyTest, EnvoysHttpConditions) {
  EXPECT_TRUE(policy("5xx").retriable(response(500)));
  EXPECT_TRUE(policy("5xx").retriable(reset(false)));
  EXPECT_TRUE(policy("5xx").retriable({AttemptOutcome::kConnectFailure}));
  EXPECT_FALSE(policy("gateway-error").retriable(response(500)));
  EXPECT_TRUE(policy("gateway-error").retriable(response(503)));
  EXPECT_FALSE(policy("connect-failure").retriable(reset(false)));
  EXPECT_FALSE(policy("5xx").retriable({AttemptOutcome::kTimeout}));
}

// Envoy's JitteredExponentialBackOffStrategy: random % an interval of base, 2 × base, 4 × base, ...
// that becomes max once doubling would pass it.
TEST(RetryPolicyTest, JitteredExponentialBackOff) {
  RetryPolicy p = policy("5xx");  // 25 ms, max 250 ms
  EXPECT_EQ(p.backOff(1, 24).count(), 24);    // % 25
  EXPECT_EQ(p.backOff(1, 25).count(), 0);
  EXPECT_EQ(p.backOff(2, 49).count(), 49);    // % 50
  EXPECT_EQ(p.backOff(2, 74).count(), 24);
  EXPECT_EQ(p.backOff(3, 99).count(), 99);    // % 100
  EXPECT_EQ(p.backOff(4, 199).count(), 199);  // % 200
  EXPECT_EQ(p.backOff(5, 249).count(), 249);  // % 250: 400 would pass max
  EXPECT_EQ(p.backOff(5, 250).count(), 0);
  EXPECT_EQ(p.backOff(9, 374).count(), 124);  // still % 250
  envoy::config::route::v3::RouteAction a;
  a.mutable_retry_policy()->set_retry_on("5xx");
  a.mutable_retry_policy()->mutable_retry_back_off()->mutable_base_interval()->set_nanos(100000000);
  RetryPolicy configured(a);
  EXPECT_EQ(configured.backOffMax.count(), 1000);  // ten times the base when not given
  EXPECT_EQ(configured.backOff(2, 199).count(), 199);
  EXPECT_EQ(configured.backOff(2, 200).count(), 0);
}

// A 503 an upstream Envoy sent for its overload (a circuit breaker) or its rate limit is never
// retried: retrying would multiply the load the breaker is there to shed.
TEST(RetryPolicyTest, OverloadedResponsesAreNotRetried) {
  AttemptOutcome o = response(503);
  o.overloaded = true;
  EXPECT_FALSE(policy("5xx").retriable(o));
  EXPECT_FALSE(policy("gateway-error").retriable(o));
  EXPECT_TRUE(policy("5xx").retriable(response(503)));
}

// App Mesh's client-error is Envoy's retriable-4xx: 409 only.
TEST(RetryPolicyTest, Retriable4xxIsConflictOnly) {
  EXPECT_TRUE(policy("retriable-4xx").retriable(response(409)));
  EXPECT_FALSE(policy("retriable-4xx").retriable(response(404)));
  EXPECT_FALSE(policy("retriable-4xx").retriable(response(503)));
  EXPECT_FALSE(policy("5xx").retriable(response(409)));
}

// A per-try timeout resets the attempt: retried by the policies that retry a reset (reset, 5xx,
// gateway-error), not by connect-failure, refused-stream, retriable-4xx or gRPC statuses.
TEST(RetryPolicyTest, PerTryTimeoutIsRetriedAsAReset) {
  AttemptOutcome perTry{AttemptOutcome::kPerTryTimeout};
  for (const char* on : {"5xx", "gateway-error", "reset"}) EXPECT_TRUE(policy(on).retriable(perTry)) << on;
  for (const char* on : {"connect-failure", "refused-stream", "retriable-4xx", "unavailable"}) {
    EXPECT_FALSE(policy(on).retriable(perTry)) << on;
  }
}

// App Mesh's stream-error is Envoy's refused-stream: only a stream the server refused (never
// processed) is retried; `reset` covers that one too.
TEST(RetryPolicyTest, RefusedStream) {
  EXPECT_TRUE(policy("refused-stream").retriable(reset(true)));
  EXPECT_FALSE(policy("refused-stream").retriable(reset(false)));
  EXPECT_TRUE(policy("reset").retriable(reset(true)));
}

// grpcRetryEvents: a trailers-only response's grpc-status (HTTP 200) decides.
TEST(RetryPolicyTest, GrpcStatuses) {
  RetryPolicy p = policy("cancelled,deadline-exceeded,internal,resource-exhausted,unavailable");
  for (uint32_t code : {1u, 4u, 8u, 13u, 14u}) EXPECT_TRUE(p.retriable(response(200, code))) << code;
  for (uint32_t code : {0u, 2u, 5u, 12u}) EXPECT_FALSE(p.retriable(response(200, code))) << code;
  EXPECT_FALSE(p.retriable(response(503)));
  EXPECT_FALSE(policy("5xx").retriable(response(200, 14)));
}

// A client's x-envoy-retry-on / x-envoy-retry-grpc-on / x-envoy-max-retries, as Envoy merges them.
TEST(RetryPolicyTest, ClientHeadersAddToThePolicy) {
  RetryPolicy none{envoy::config::route::v3::RouteAction()};
  none.merge("", "", 5);  // nothing to retry on: the count alone changes nothing
  EXPECT_EQ(none.numRetries, 0u);
  none.merge("5xx", "", std::nullopt);  // no policy: the header's retries once
  EXPECT_EQ(none.numRetries, 1u);
  EXPECT_TRUE(none.retriable(response(500)));

  RetryPolicy p = policy("connect-failure", 2);
  p.merge("retriable-4xx,unknown-name", "unavailable", 4);
  EXPECT_EQ(p.numRetries, 4u);  // the header's count wins
  EXPECT_TRUE(p.retriable({AttemptOutcome::kConnectFailure}));  // the route's conditions stay
  EXPECT_TRUE(p.retriable(response(409)));
  EXPECT_TRUE(p.retriable(response(200, 14)));
  EXPECT_FALSE(p.retriable(response(503)));

  RetryPolicy grpcOnly{envoy::config::route::v3::RouteAction()};
  grpcOnly.merge("unavailable", "5xx", std::nullopt);  // each header knows its own names only
  EXPECT_EQ(grpcOnly.numRetries, 1u);
  EXPECT_FALSE(grpcOnly.retriesAnything());
}

}  // namespace
}  // namespace meshd::proxy
