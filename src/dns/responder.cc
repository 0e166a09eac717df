#include "dns/responder.h"

#include <algorithm>

#include "dns/message.h"
#include "dns/name.h"

namespace meshd::dns {
namespace {

constexpr uint8_t kOpcodeQuery = 0;
constexpr size_t kMaxTcpMessage = 65535;

// A response carrying only a code: the request's id, opcode, RD and CD echoed.
Message errorResponse(const Header& request, Rcode rcode) {
  Message m;
  m.header.id = request.id;
  m.header.qr = true;
  m.header.opcode = request.opcode;
  m.header.rd = request.rd;
  m.header.cd = request.cd;
  m.header.rcode = rcode;
  return m;
}

std::vector<uint8_t> serializeOrFail(const Message& m, size_t limit) {
  auto bytes = serializeMessage(m, limit);
  if (bytes.ok()) return std::move(bytes).value();
  // Only a name that cannot be encoded gets here, which the zone builder and the parser both rule
  // out; answer SERVFAIL rather than nothing so the client does not wait out a timeout.
  Message fail = errorResponse(m.header, Rcode::kServFail);
  fail.edns = m.edns;
  auto failBytes = serializeMessage(fail, limit);
  return failBytes.ok() ? std::move(failBytes).value() : std::vector<uint8_t>{};
}

}  // namespace

std::vector<uint8_t> respond(const ZoneSet& zones, std::span<const uint8_t> request, Transport transport) {
  auto header = parseHeader(request);
  if (!header.ok() || header->qr) return {};  // answering a response could start a loop between servers
  auto parsed = parseMessage(request);
  if (!parsed.ok()) return serializeOrFail(errorResponse(*header, Rcode::kFormErr), kMinUdpPayload);
  const Message& query = *parsed;

  size_t limit = kMaxTcpMessage;
  if (transport == Transport::kUdp) {
    limit = query.edns ? std::clamp<size_t>(query.edns->udpSize, kMinUdpPayload, kMaxUdpPayload) : kMinUdpPayload;
  }
  Message out = errorResponse(query.header, Rcode::kNoError);
  if (query.questions.size() == 1) out.questions = query.questions;
  if (query.edns) out.edns = Edns{kMaxUdpPayload, 0, query.edns->dnssecOk};

  if (query.header.opcode != kOpcodeQuery) {
    out.header.rcode = Rcode::kNotImp;
  } else if (query.questions.size() != 1) {
    out.header.rcode = Rcode::kFormErr;
  } else if (query.edns && query.edns->version != 0) {
    out.header.rcode = Rcode::kBadVers;  // RFC 6891 §6.1.3
  } else {
    const Question& q = query.questions[0];
    if (q.klass != kClassIn && q.klass != kClassAny) {
      out.header.rcode = Rcode::kRefused;
    } else if (q.type == RecordType::kAxfr || q.type == RecordType::kIxfr) {
      out.header.rcode = Rcode::kRefused;  // meshd offers no zone transfers
    } else {
      Answer a = lookup(zones, q.name, q.type);
      out.header.rcode = a.rcode;
      out.header.aa = a.authoritative;
      // Records at the question's name carry its spelling, so a resolver that randomizes case
      // (draft-vixie-dnsext-0x20) sees its own back; compression then reuses the question's bytes.
      std::string canonical = normalizeName(q.name);
      for (Record& r : a.answers) {
        if (r.name == canonical) r.name = q.name;
      }
      out.answers = std::move(a.answers);
      out.authority = std::move(a.authority);
      out.additional = std::move(a.additional);
    }
  }
  return serializeOrFail(out, limit);
}

}  // namespace meshd::dns
