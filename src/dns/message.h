#pragma once
// DNS messages (RFC 1035 §4) as values, parsed from and serialized to wire format. Pure functions: no
// I/O, safe from any thread.
//
// Parsing treats its input as hostile: every count is checked against the bytes present, names are
// bounded (wire.h), and any inconsistency fails the whole parse with kBadRequest rather than giving a
// partial message. Serializing compresses names and respects a size limit without ever emitting a
// partial record.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "dns/record.h"

namespace meshd::dns {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kMinUdpPayload = 512;  // without EDNS, and the floor of any EDNS size (RFC 6891)

struct Header {
  uint16_t id = 0;
  bool qr = false;  // a response
  uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  Rcode rcode = Rcode::kNoError;  // the full code: parsing folds in the OPT record's upper bits
};

struct Question {
  std::string name;  // text form (name.h), case as sent
  RecordType type = RecordType::kA;
  uint16_t klass = kClassIn;
};

// The OPT pseudo-record (RFC 6891), kept apart from the additional section.
struct Edns {
  uint16_t udpSize = kMinUdpPayload;  // the sender's UDP payload size, as sent
  uint8_t version = 0;
  bool dnssecOk = false;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers;
  std::vector<Record> authority;
  std::vector<Record> additional;  // without the OPT record
  std::optional<Edns> edns;
};

// Reads the fixed 12-byte header only (counts ignored); fails when fewer bytes are present. Lets a
// server answer FORMERR to a message it cannot otherwise parse.
StatusOr<Header> parseHeader(std::span<const uint8_t> packet);

// Parses a whole message. Bytes after the last counted record are ignored.
StatusOr<Message> parseMessage(std::span<const uint8_t> packet);

// Serializes into at most `limit` bytes (at least the header's 12). When the answer and authority
// sections do not all fit, the result is the header, the questions and the OPT record with TC set
// (RFC 2181 §9); additional RRsets that do not fit are left out whole, without TC. Fails only when a
// name cannot be encoded.
StatusOr<std::vector<uint8_t>> serializeMessage(const Message& message, size_t limit = 65535);

}  // namespace meshd::dns
