#include "proxy/h2/grpc_health.h"

namespace meshd::proxy::grpc {

namespace {

// A base-128 varint at the start of `in`, which it then leaves; nullopt when truncated or over 64 bits.
std::optional<uint64_t> varint(std::string_view& in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  return std::nullopt;
}

void putVarint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out += static_cast<char>(0x80 | (v & 0x7f));
  out += static_cast<char>(v);
}

// Field 1 (a varint) of a protobuf message, proto3's default 0 when absent; unknown fields skipped.
std::optional<uint64_t> firstVarintField(std::string_view msg) {
  uint64_t value = 0;
  while (!msg.empty()) {
    auto tag = varint(msg);
    if (!tag) return std::nullopt;
    uint64_t field = *tag >> 3, type = *tag & 7;
    switch (type) {
      case 0: {
        auto v = varint(msg);
        if (!v) return std::nullopt;
        if (field == 1) value = *v;
        break;
      }
      case 1:
      case 5: {
        size_t n = type == 1 ? 8 : 4;
        if (msg.size() < n) return std::nullopt;
        msg.remove_prefix(n);
        break;
      }
      case 2: {
        auto n = varint(msg);
        if (!n || *n > msg.size()) return std::nullopt;
        msg.remove_prefix(*n);
        break;
      }
      default: return std::nullopt;  // groups and reserved types: not a HealthCheckResponse
    }
  }
  return value;
}

}  // namespace

std::string healthCheckRequest(std::string_view service) {
  std::string msg;
  if (!service.empty()) {
    msg += '\x0a';  // field 1, length-delimited
    putVarint(msg, service.size());
    msg += service;
  }
  std::string frame(5, '\0');  // not compressed, then the length in network order
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>((msg.size() >> (8 * (3 - i))) & 0xff);
  return frame + msg;
}

std::optional<ServingStatus> healthCheckStatus(std::string_view body) {
  if (body.size() < 5 || body[0] != 0) return std::nullopt;
  uint32_t n = 0;
  for (int i = 1; i < 5; ++i) n = n << 8 | static_cast<uint8_t>(body[i]);
  if (n == 0 || body.size() - 5 != n) return std::nullopt;
  auto status = firstVarintField(body.substr(5));
  if (!status) return std::nullopt;
  return static_cast<ServingStatus>(*status);
}

}  // namespace meshd::proxy::grpc
