// grpc.health.v1 on the wire: the request as gRPC's generated code frames it, and what a response
// body must be for Envoy to read a status from it.
#include "proxy/h2/grpc_health.h"

#include <gtest/gtest.h>

namespace meshd::proxy::grpc {
namespace {

using namespace std::string_literals;

TEST(GrpcHealthTest, RequestIsOneLengthPrefixedMessage) {
  EXPECT_EQ(healthCheckRequest(""), "\0\0\0\0\0"s);  // proto3 leaves the empty service out
  EXPECT_EQ(healthCheckRequest("pkg.Svc"), "\0\0\0\0\x09\x0a\x07pkg.Svc"s);
  std::string longName(200, 's');  // a two-byte length varint
  EXPECT_EQ(healthCheckRequest(longName), "\0\0\0\0\xcb\x0a\xc8\x01"s + longName);
}

TEST(GrpcHealthTest, StatusIsReadFromOneMessage) {
  EXPECT_EQ(healthCheckStatus("\0\0\0\0\x02\x08\x01"s), ServingStatus::kServing);
  EXPECT_EQ(healthCheckStatus("\0\0\0\0\x02\x08\x02"s), ServingStatus::kNotServing);
  // Unknown fields around it are skipped; without field 1 the status is proto3's default.
  EXPECT_EQ(healthCheckStatus("\0\0\0\0\x08\x12\x02hi\x08\x01\x18\x05"s), ServingStatus::kServing);
  EXPECT_EQ(healthCheckStatus("\0\0\0\0\x02\x18\x05"s), ServingStatus::kUnknown);
}

TEST(GrpcHealthTest, AnythingButOneWholeUncompressedMessageHasNoStatus) {
  for (const std::string& body : {
           ""s,
           "\0\0\0\0\0"s,                                 // an empty message: Envoy saw no response
           "\x01\0\0\0\x02\x08\x01"s,                     // compressed
           "\0\0\0\0\x03\x08\x01"s,                       // shorter than its length
           "\0\0\0\0\x02\x08\x01\0\0\0\0\x02\x08\x01"s,   // two messages to a unary call
           "\0\0\0\0\x02\x08\x81"s,                       // a truncated varint
           "\0\0\0\0\x02\x0a\x05"s,                       // a field longer than the message
       }) {
    EXPECT_EQ(healthCheckStatus(body), std::nullopt) << testing::PrintToString(body);
  }
}

}  // namespace
}  // namespace meshd::proxy::grpc
