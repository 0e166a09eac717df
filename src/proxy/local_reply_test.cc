#include "proxy/local_reply.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

TEST(LocalReplyTest, ConnectFailureBodyIsEnvoys) {
  EXPECT_EQ(upstreamReset(kRemoteConnectionFailure, "delayed connect error: Connection refused", false).body,
            "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, "
            "transport failure reason: delayed connect error: Connection refused");
  EXPECT_EQ(upstreamReset(kRemoteConnectionFailure, "delayed connect error: Connection refused", false).status, 503u);
}

TEST(LocalReplyTest, RetriedConnectFailureSaysRetried) {
  EXPECT_EQ(upstreamReset(kRemoteConnectionFailure, "delayed connect error: Connection refused", true).body,
            "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
            "remote connection failure, transport failure reason: delayed connect error: Connection refused");
}

TEST(LocalReplyTest, ResetWithoutTransportFailureHasNoTransportPart) {
  EXPECT_EQ(upstreamReset(kConnectionTermination, "", false).body,
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination");
}

TEST(LocalReplyTest, NonEmptyReplyCarriesTextPlainAndLength) {
  EXPECT_EQ(serialize(noHealthyUpstream(), true),
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n\r\n"
            "no healthy upstream");
  EXPECT_EQ(serialize(upstreamTimeout(), false),
            "HTTP/1.1 504 Gateway Timeout\r\ncontent-length: 24\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
            "upstream request timeout");
}

// A circuit breaker's overflow drops the request: Envoy's router says so in x-envoy-overloaded.
TEST(LocalReplyTest, OverflowSaysOverloaded) {
  LocalReply r = upstreamReset(kOverflow, "", false);
  EXPECT_TRUE(r.overloaded);
  EXPECT_EQ(serialize(r, true),
            "HTTP/1.1 503 Service Unavailable\r\nx-envoy-overloaded: true\r\ncontent-length: 81\r\n"
            "content-type: text/plain\r\n\r\nupstream connect error or disconnect/reset before headers. reset reason: overflow");
  EXPECT_FALSE(upstreamReset(kConnectionTermination, "", false).overloaded);
}

TEST(LocalReplyTest, EmptyReplyHasNoContentType) {
  EXPECT_EQ(serialize(noRoute(), true), "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  EXPECT_EQ(clusterNotFound(), (LocalReply{503, "", false, {}}));
}

// The stream idle timer's reply: a gateway timeout once the request had ended, else 408.
TEST(LocalReplyTest, StreamTimeoutIs504AfterTheRequestAnd408DuringIt) {
  EXPECT_EQ(streamTimeout(true), (LocalReply{504, "stream timeout", false, {}}));
  EXPECT_EQ(serialize(streamTimeout(false), false),
            "HTTP/1.1 408 Request Timeout\r\ncontent-length: 14\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
            "stream timeout");
}

// What the access log's RESPONSE_CODE_DETAILS says for each reply, as Envoy's.
TEST(LocalReplyTest, DetailsAreEnvoys) {
  EXPECT_EQ(noRoute().details, "route_not_found");
  EXPECT_EQ(clusterNotFound().details, "cluster_not_found");
  EXPECT_EQ(noHealthyUpstream().details, "no_healthy_upstream");
  EXPECT_EQ(upstreamTimeout().details, "response_timeout");
  EXPECT_EQ(upstreamTimeout(true).details, "upstream_per_try_timeout");
  EXPECT_EQ(streamTimeout(false).details, "stream_idle_timeout");
  EXPECT_EQ(upstreamReset(kRemoteConnectionFailure, "delayed connect error: Connection refused", true).details,
            "upstream_reset_before_response_started{remote connection failure|delayed connect error: Connection refused}");
  EXPECT_EQ(upstreamReset(kOverflow, "", false).details, "upstream_reset_before_response_started{overflow}");
  EXPECT_EQ(resetDetails(kConnectionTermination, "", true), "upstream_reset_after_response_started{connection termination}");
}

}  // namespace
}  // namespace meshd::proxy
