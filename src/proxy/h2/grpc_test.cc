#include "proxy/h2/grpc.h"

#include <gtest/gtest.h>

namespace meshd::proxy::grpc {
namespace {

TEST(GrpcTest, ContentTypeIsGrpcOrGrpcPlusSomething) {
  EXPECT_TRUE(isGrpcContentType("application/grpc"));
  EXPECT_TRUE(isGrpcContentType("application/grpc+proto"));
  EXPECT_TRUE(isGrpcContentType("application/grpc+json"));
  EXPECT_FALSE(isGrpcContentType("application/grpc-web"));
  EXPECT_FALSE(isGrpcContentType("application/grpc-web-text"));
  EXPECT_FALSE(isGrpcContentType("application/grpc; charset=utf-8"));  // as Envoy
  EXPECT_FALSE(isGrpcContentType("application/json"));
  EXPECT_FALSE(isGrpcContentType(""));
}

TEST(GrpcTest, RequestIsGrpcByItsContentType) {
  EXPECT_TRUE(isGrpcRequest({{":method", "POST"}, {":path", "/pkg.Svc/Call"}, {"content-type", "application/grpc"}}));
  EXPECT_FALSE(isGrpcRequest({{":method", "POST"}, {"content-type", "text/plain"}}));
  EXPECT_FALSE(isGrpcRequest({{":method", "GET"}}));
}

TEST(GrpcTest, HttpStatusMapsAsEnvoys) {
  EXPECT_EQ(httpToGrpcStatus(400), StatusCode::kInternal);
  EXPECT_EQ(httpToGrpcStatus(401), StatusCode::kUnauthenticated);
  EXPECT_EQ(httpToGrpcStatus(403), StatusCode::kPermissionDenied);
  EXPECT_EQ(httpToGrpcStatus(404), StatusCode::kUnimplemented);
  for (unsigned s : {429u, 502u, 503u, 504u}) EXPECT_EQ(httpToGrpcStatus(s), StatusCode::kUnavailable) << s;
  for (unsigned s : {200u, 408u, 431u, 500u, 501u}) EXPECT_EQ(httpToGrpcStatus(s), StatusCode::kUnknown) << s;
}

TEST(GrpcTest, GrpcStatusMapsToHttpAsEnvoys) {
  const unsigned expected[] = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401};
  for (uint32_t code = 0; code < std::size(expected); ++code) EXPECT_EQ(grpcToHttpStatus(code), expected[code]) << code;
  EXPECT_EQ(grpcToHttpStatus(17), 500u);
  EXPECT_EQ(grpcToHttpStatus(kInvalidGrpcStatus), 500u);
}

TEST(GrpcTest, GrpcStatusParsesAsEnvoys) {
  EXPECT_EQ(parseGrpcStatus(std::nullopt), std::nullopt);
  EXPECT_EQ(parseGrpcStatus("0"), 0u);
  EXPECT_EQ(parseGrpcStatus("14"), 14u);
  EXPECT_EQ(parseGrpcStatus("16"), 16u);
  EXPECT_EQ(parseGrpcStatus(""), std::nullopt);  // empty: as absent
  EXPECT_EQ(parseGrpcStatus(" +14 "), 14u);      // as absl::SimpleAtoi
  for (std::string_view bad : {"17", "abc", "1x", "-1", "+", " "}) EXPECT_EQ(parseGrpcStatus(bad), kInvalidGrpcStatus) << bad;
}

TEST(GrpcTest, MessageIsPercentEncodedAsEnvoyDoes) {
  EXPECT_EQ(percentEncode("no healthy upstream"), "no healthy upstream");
  EXPECT_EQ(percentEncode("100% done\r\n"), "100%25 done%0D%0A");
  EXPECT_EQ(percentEncode("a~b"), "a%7Eb");  // Envoy escapes '~' too
  EXPECT_EQ(percentEncode("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(percentEncode(std::string("\0x", 2)), "%00x");
}

TEST(GrpcTest, TrailersOnlyLocalReply) {
  EXPECT_EQ(trailersOnlyReply(503, "no healthy upstream"),
            (h2::Headers{{":status", "200"},
                         {"content-type", "application/grpc"},
                         {"grpc-status", "14"},
                         {"grpc-message", "no healthy upstream"}}));
  // Envoy's 404 for no route: an empty body, so no grpc-message.
  EXPECT_EQ(trailersOnlyReply(404, ""),
            (h2::Headers{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "12"}}));
  EXPECT_EQ(trailersOnlyReply(StatusCode::kDeadlineExceeded, "upstream request timeout").at(2).second, "4");
}

}  // namespace
}  // namespace meshd::proxy::grpc
