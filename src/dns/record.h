#pragma once
// The DNS vocabulary shared by the zone data and the wire format: record types, response codes and
// resource records with their decoded data. Plain values; no behaviour beyond construction helpers.

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace meshd::dns {

// A record type as it appears on the wire. Any 16-bit value is representable; the named ones are the
// types meshd serves or must recognise.
enum class RecordType : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,
  kIxfr = 251,
  kAxfr = 252,
  kAny = 255,
};

// A response code, extended (RFC 6891): values above 15 carry their upper bits in the OPT record.
enum class Rcode : uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,
};

constexpr uint16_t kClassIn = 1;
constexpr uint16_t kClassAny = 255;

using Ipv4 = std::array<uint8_t, 4>;
using Ipv6 = std::array<uint8_t, 16>;

struct NsData {
  std::string host;
  bool operator==(const NsData&) const = default;
};

struct CnameData {
  std::string target;
  bool operator==(const CnameData&) const = default;
};

struct SoaData {
  std::string mname;  // the primary name server
  std::string rname;  // the responsible mailbox, '@' written as '.'
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;  // the negative-caching TTL cap (RFC 2308)
  bool operator==(const SoaData&) const = default;
};

struct SrvData {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;
  bool operator==(const SrvData&) const = default;
};

// The data of a type this module does not decode, kept as bytes.
struct RawData {
  std::vector<uint8_t> bytes;
  bool operator==(const RawData&) const = default;
};

using Rdata = std::variant<Ipv4, Ipv6, NsData, CnameData, SoaData, SrvData, RawData>;

// One resource record. `name` is in the text form of name.h. `type` agrees with the alternative held
// by `data`, except that RawData may carry any type.
struct Record {
  std::string name;
  RecordType type = RecordType::kA;
  uint16_t klass = kClassIn;
  uint32_t ttl = 0;
  Rdata data;
  bool operator==(const Record&) const = default;
};

}  // namespace meshd::dns
