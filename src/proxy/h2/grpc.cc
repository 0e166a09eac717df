#include "proxy/h2/grpc.h"

#include <charconv>
#include <iterator>

namespace meshd::proxy::grpc {

namespace {

constexpr std::string_view kGrpcContentType = "application/grpc";

bool needsEscape(unsigned char c) { return c < ' ' || c >= '~' || c == '%'; }

}  // namespace

bool isGrpcContentType(std::string_view contentType) {
  if (!contentType.starts_with(kGrpcContentType)) return false;
  return contentType.size() == kGrpcContentType.size() || contentType[kGrpcContentType.size()] == '+';
}

bool isGrpcRequest(const h2::Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name == "content-type") return isGrpcContentType(value);
  }
  return false;
}

StatusCode httpToGrpcStatus(unsigned httpStatus) {
  switch (httpStatus) {
    case 400:
      return StatusCode::kInternal;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kUnknown;
  }
}

unsigned grpcToHttpStatus(uint32_t grpcStatus) {
  // Indexed by code: OK, Cancelled (499, Client Closed Request), Unknown, InvalidArgument,
  // DeadlineExceeded, NotFound, AlreadyExists, PermissionDenied, ResourceExhausted,
  // FailedPrecondition, Aborted, OutOfRange, Unimplemented, Internal, Unavailable, DataLoss,
  // Unauthenticated.
  static constexpr unsigned kHttp[] = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401};
  return grpcStatus < std::size(kHttp) ? kHttp[grpcStatus] : 500;
}

std::optional<uint32_t> parseGrpcStatus(std::optional<std::string_view> value) {
  if (!value || value->empty()) return std::nullopt;
  // As absl::SimpleAtoi: surrounding whitespace and a leading '+' are allowed.
  std::string_view v = *value;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  uint32_t code = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || code > static_cast<uint32_t>(StatusCode::kUnauthenticated)) {
    return kInvalidGrpcStatus;
  }
  return code;
}

std::string percentEncode(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char ch : message) {
    auto c = static_cast<unsigned char>(ch);
    if (needsEscape(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

h2::Headers trailersOnlyReply(StatusCode status, std::string_view message) {
  h2::Headers h = {
      {":status", "200"},
      {"content-type", std::string(kGrpcContentType)},
      {"grpc-status", std::to_string(static_cast<uint32_t>(status))},
  };
  if (!message.empty()) h.emplace_back("grpc-message", percentEncode(message));
  return h;
}

h2::Headers trailersOnlyReply(unsigned httpStatus, std::string_view body) {
  return trailersOnlyReply(httpToGrpcStatus(httpStatus), body);
}

}  // namespace meshd::proxy::grpc
