#pragma once
// What a proxy needs to know of gRPC: which requests are gRPC, and how to answer one locally the
// way Envoy does (a trailers-only response: HTTP 200 whose single HEADERS frame carries
// grpc-status and grpc-message and ends the stream). Pure; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/h2/headers.h"

namespace meshd::proxy::grpc {

// grpc/include/grpcpp/impl/codegen/status_code_enum.h, doc/statuscodes.md.
enum class StatusCode : uint32_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// As Envoy's Grpc::Common::hasGrpcContentType: exactly "application/grpc" or "application/grpc+..."
// (application/grpc+proto, +json); application/grpc-web and parameters after ';' are not gRPC.
bool isGrpcContentType(std::string_view contentType);
// A request head whose content-type is gRPC's (Envoy decides gRPC local replies on that alone).
bool isGrpcRequest(const h2::Headers& headers);

// Envoy's Grpc::Utility::httpToGrpcStatus, after gRPC's doc/http-grpc-status-mapping.md: the status
// a local reply with this HTTP status carries to a gRPC client.
StatusCode httpToGrpcStatus(unsigned httpStatus);

// Envoy's Grpc::Utility::grpcToHttpStatus: the HTTP status a grpc-status stands for where Envoy
// judges a gRPC response as it would an HTTP one (outlier detection, a host's rq_success and
// rq_error). Codes past kUnauthenticated are invalid: 500.
unsigned grpcToHttpStatus(uint32_t grpcStatus);

// A grpc-status value as Envoy's Grpc::Common::getGrpcStatus reads it: nothing when absent or
// empty, and kInvalidCode (-1 here: UINT32_MAX) when it is not a number of a known code.
std::optional<uint32_t> parseGrpcStatus(std::optional<std::string_view> value);
inline constexpr uint32_t kInvalidGrpcStatus = UINT32_MAX;

// grpc-message's encoding (gRPC's PROTOCOL-HTTP2.md, "Percent-Encoded"), byte for byte as Envoy's
// PercentEncoding::encode: '%', bytes below 0x20 and from 0x7E ('~') up become %XX (uppercase).
std::string percentEncode(std::string_view message);

// The headers of Envoy's local reply to a gRPC request: ":status 200", "content-type
// application/grpc", "grpc-status", and "grpc-message" when there is a message. Sent as one HEADERS
// frame with END_STREAM.
h2::Headers trailersOnlyReply(StatusCode status, std::string_view message);
// The same for a local reply Envoy would give an HTTP client (status and body, as local_reply.h):
// the status maps through httpToGrpcStatus, the body becomes grpc-message.
h2::Headers trailersOnlyReply(unsigned httpStatus, std::string_view body);

}  // namespace meshd::proxy::grpc
