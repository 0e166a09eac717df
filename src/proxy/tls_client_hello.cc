#include "proxy/tls_client_hello.h"

#include <cctype>
#include <cstdint>
#include <optional>

namespace meshd::proxy {

namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHelloType = 1;
constexpr uint16_t kServerNameExtension = 0;
constexpr uint8_t kHostNameType = 0;

// Reads big-endian fields off the front of a byte range; every read says whether it fit.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  std::optional<uint32_t> number(size_t bytes) {
    if (b_.size() < bytes) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(b_[i]);
    b_.remove_prefix(bytes);
    return v;
  }
  std::optional<std::string_view> bytes(size_t n) {
    if (b_.size() < n) return std::nullopt;
    std::string_view out = b_.substr(0, n);
    b_.remove_prefix(n);
    return out;
  }
  // A field prefixed by its length in `lengthBytes` bytes.
  std::optional<std::string_view> vector(size_t lengthBytes) {
    auto n = number(lengthBytes);
    return n ? bytes(*n) : std::nullopt;
  }
  bool empty() const { return b_.empty(); }

 private:
  std::string_view b_;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The host_name of a server_name extension's body; "" when it has none.
std::optional<std::string> hostName(std::string_view ext) {
  Reader r(ext);
  auto list = r.vector(2);
  if (!list) return std::nullopt;
  Reader names(*list);
  while (!names.empty()) {
    auto type = names.number(1);
    auto name = names.vector(2);
    if (!type || !name) return std::nullopt;
    if (*type == kHostNameType) return lower(*name);
  }
  return std::string();
}

}  // namespace

ClientHello parseClientHello(std::string_view peeked) {
  ClientHello out;
  if (peeked.empty()) return out;
  if (static_cast<uint8_t>(peeked[0]) != kHandshakeRecord) return {ClientHello::kNotTls, ""};
  if (peeked.size() < 6) return out;
  Reader record(peeked);
  record.number(1);
  uint32_t major = *record.number(1);
  record.number(1);
  uint32_t length = *record.number(2);
  // TLS 1.0-1.3 all say 3.x here, and a record holds at most 16 KiB.
  if (major != 3 || length < 4 || length > kMaxClientHelloBytes - 5) return {ClientHello::kNotTls, ""};
  if (static_cast<uint8_t>(peeked[5]) != kClientHelloType) return {ClientHello::kNotTls, ""};
  if (peeked.size() < 5 + length) return out;
  out.kind = ClientHello::kTls;
  Reader hello(peeked.substr(5, length));
  hello.number(1);                      // handshake type
  auto helloLength = hello.number(3);
  // A hello longer than its first record continues in the next: what this record holds is read.
  if (!helloLength || !hello.bytes(2) || !hello.bytes(32) || !hello.vector(1) || !hello.vector(2) || !hello.vector(1)) {
    return {ClientHello::kNotTls, ""};
  }
  if (hello.empty()) return out;  // no extensions at all (SSLv3-era hello)
  auto extensionsLength = hello.number(2);
  if (!extensionsLength) return out;
  while (!hello.empty()) {
    auto type = hello.number(2);
    auto body = hello.vector(2);
    if (!type || !body) break;  // truncated by the record's end
    if (*type != kServerNameExtension) continue;
    auto name = hostName(*body);
    if (!name) return {ClientHello::kNotTls, ""};
    out.serverName = *name;
    break;
  }
  return out;
}

}  // namespace meshd::proxy
