#include "dns/message.h"

#include <algorithm>

#include "dns/name.h"
#include "dns/wire.h"

namespace meshd::dns {
namespace {

constexpr size_t kOptSize = 11;  // root name, type, class, ttl, rdlength: an OPT without options

Header decodeFlags(uint16_t id, uint16_t flags) {
  Header h;
  h.id = id;
  h.qr = flags & 0x8000;
  h.opcode = static_cast<uint8_t>(flags >> 11 & 0xF);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.ad = flags & 0x0020;
  h.cd = flags & 0x0010;
  h.rcode = static_cast<Rcode>(flags & 0xF);
  return h;
}

uint16_t encodeFlags(const Header& h) {
  return static_cast<uint16_t>((h.qr ? 0x8000 : 0) | (h.opcode & 0xF) << 11 | (h.aa ? 0x0400 : 0) |
                               (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) |
                               (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) |
                               (static_cast<uint16_t>(h.rcode) & 0xF));
}

// Reads the data of a record whose RDLENGTH said `length`; names inside must end exactly there.
Status readRdata(WireReader& r, RecordType type, uint16_t klass, uint16_t length, Rdata* out) {
  if (r.remaining() < length) return r.skip(length);  // reports the truncation
  size_t end = r.offset() + length;
  auto exact = [&](const char* what) -> Status {
    if (r.offset() != end) return badRequest(std::string(what) + " record data does not match its length");
    return okStatus();
  };
  if (klass != kClassIn) type = static_cast<RecordType>(0);  // only IN data is decoded
  switch (type) {
    case RecordType::kA:
    case RecordType::kAaaa: {
      std::vector<uint8_t> b;
      size_t want = type == RecordType::kA ? 4 : 16;
      if (length != want) return badRequest("address record with " + std::to_string(length) + " bytes of data");
      MESHD_RETURN_IF_ERROR(r.bytes(length, &b));
      if (type == RecordType::kA) {
        Ipv4 a;
        std::copy(b.begin(), b.end(), a.begin());
        *out = a;
      } else {
        Ipv6 a;
        std::copy(b.begin(), b.end(), a.begin());
        *out = a;
      }
      return okStatus();
    }
    case RecordType::kNs: {
      NsData d;
      MESHD_RETURN_IF_ERROR(r.name(&d.host));
      *out = std::move(d);
      return exact("NS");
    }
    case RecordType::kCname: {
      CnameData d;
      MESHD_RETURN_IF_ERROR(r.name(&d.target));
      *out = std::move(d);
      return exact("CNAME");
    }
    case RecordType::kSoa: {
      SoaData d;
      MESHD_RETURN_IF_ERROR(r.name(&d.mname));
      MESHD_RETURN_IF_ERROR(r.name(&d.rname));
      for (uint32_t* v : {&d.serial, &d.refresh, &d.retry, &d.expire, &d.minimum}) MESHD_RETURN_IF_ERROR(r.u32(v));
      *out = std::move(d);
      return exact("SOA");
    }
    case RecordType::kSrv: {
      SrvData d;
      MESHD_RETURN_IF_ERROR(r.u16(&d.priority));
      MESHD_RETURN_IF_ERROR(r.u16(&d.weight));
      MESHD_RETURN_IF_ERROR(r.u16(&d.port));
      MESHD_RETURN_IF_ERROR(r.name(&d.target));
      *out = std::move(d);
      return exact("SRV");
    }
    default: {
      RawData d;
      MESHD_RETURN_IF_ERROR(r.bytes(length, &d.bytes));
      *out = std::move(d);
      return okStatus();
    }
  }
}

Status readRecord(WireReader& r, Record* rec) {
  uint16_t type = 0, length = 0;
  MESHD_RETURN_IF_ERROR(r.name(&rec->name));
  MESHD_RETURN_IF_ERROR(r.u16(&type));
  MESHD_RETURN_IF_ERROR(r.u16(&rec->klass));
  MESHD_RETURN_IF_ERROR(r.u32(&rec->ttl));
  MESHD_RETURN_IF_ERROR(r.u16(&length));
  rec->type = static_cast<RecordType>(type);
  if (rec->type == RecordType::kOpt) {  // class and TTL are EDNS fields; options stay raw
    RawData d;
    MESHD_RETURN_IF_ERROR(r.bytes(length, &d.bytes));
    rec->data = std::move(d);
    return okStatus();
  }
  return readRdata(r, rec->type, rec->klass, length, &rec->data);
}

// Takes the OPT pseudo-record (RFC 6891 §6.1.1): at most one, owned by the root, options well framed.
StatusOr<Edns> readEdns(const Record& opt) {
  if (!opt.name.empty()) return badRequest("OPT record not owned by the root");
  const auto& options = std::get<RawData>(opt.data).bytes;
  for (size_t i = 0; i < options.size();) {
    if (options.size() - i < 4) return badRequest("truncated EDNS option");
    size_t len = static_cast<size_t>(options[i + 2]) << 8 | options[i + 3];
    if (options.size() - i - 4 < len) return badRequest("truncated EDNS option");
    i += 4 + len;
  }
  Edns e;
  e.udpSize = opt.klass;
  e.version = static_cast<uint8_t>(opt.ttl >> 16);
  e.dnssecOk = opt.ttl & 0x8000;
  return e;
}

Status writeRecord(WireWriter& w, const Record& rec) {
  auto owner = toLabels(rec.name);
  if (!owner.ok()) return owner.status();
  w.name(*owner, true);
  w.u16(static_cast<uint16_t>(rec.type));
  w.u16(rec.klass);
  w.u32(rec.ttl);
  size_t lengthAt = w.size();
  w.u16(0);
  auto name = [&](const std::string& text, bool compress) -> Status {
    auto labels = toLabels(text);
    if (!labels.ok()) return labels.status();
    w.name(*labels, compress);
    return okStatus();
  };
  Status st;
  if (auto* a = std::get_if<Ipv4>(&rec.data)) {
    w.bytes(*a);
  } else if (auto* a6 = std::get_if<Ipv6>(&rec.data)) {
    w.bytes(*a6);
  } else if (auto* ns = std::get_if<NsData>(&rec.data)) {
    st = name(ns->host, true);
  } else if (auto* cname = std::get_if<CnameData>(&rec.data)) {
    st = name(cname->target, true);
  } else if (auto* soa = std::get_if<SoaData>(&rec.data)) {
    st = name(soa->mname, true);
    if (st.ok()) st = name(soa->rname, true);
    for (uint32_t v : {soa->serial, soa->refresh, soa->retry, soa->expire, soa->minimum}) w.u32(v);
  } else if (auto* srv = std::get_if<SrvData>(&rec.data)) {
    w.u16(srv->priority);
    w.u16(srv->weight);
    w.u16(srv->port);
    st = name(srv->target, false);  // RFC 2782: the target is never compressed
  } else if (auto* raw = std::get_if<RawData>(&rec.data)) {
    w.bytes(raw->bytes);
  }
  if (!w.full()) w.patchU16(lengthAt, static_cast<uint16_t>(w.size() - lengthAt - 2));
  return st;
}

bool sameRrset(const Record& a, const Record& b) {
  return a.type == b.type && a.klass == b.klass && normalizeName(a.name) == normalizeName(b.name);
}

}  // namespace

StatusOr<Header> parseHeader(std::span<const uint8_t> packet) {
  if (packet.size() < kHeaderSize) return badRequest("message shorter than its header");
  return decodeFlags(static_cast<uint16_t>(packet[0] << 8 | packet[1]),
                     static_cast<uint16_t>(packet[2] << 8 | packet[3]));
}

StatusOr<Message> parseMessage(std::span<const uint8_t> packet) {
  WireReader r(packet);
  uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  for (uint16_t* v : {&id, &flags, &qd, &an, &ns, &ar}) MESHD_RETURN_IF_ERROR(r.u16(v));
  Message m;
  m.header = decodeFlags(id, flags);
  // Each entry takes at least 5 bytes (question) or 11 (record), so a count that lies fails on
  // truncation after at most packet-size reads; nothing is reserved up front from the counts.
  for (uint16_t i = 0; i < qd; ++i) {
    Question q;
    uint16_t type = 0;
    MESHD_RETURN_IF_ERROR(r.name(&q.name));
    MESHD_RETURN_IF_ERROR(r.u16(&type));
    MESHD_RETURN_IF_ERROR(r.u16(&q.klass));
    q.type = static_cast<RecordType>(type);
    m.questions.push_back(std::move(q));
  }
  using Section = std::pair<uint16_t, std::vector<Record>*>;
  for (auto [count, section] : {Section{an, &m.answers}, Section{ns, &m.authority}, Section{ar, &m.additional}}) {
    for (uint16_t i = 0; i < count; ++i) {
      Record rec;
      MESHD_RETURN_IF_ERROR(readRecord(r, &rec));
      if (rec.type != RecordType::kOpt) {
        section->push_back(std::move(rec));
        continue;
      }
      if (section != &m.additional) return badRequest("OPT record outside the additional section");
      if (m.edns) return badRequest("more than one OPT record");
      auto edns = readEdns(rec);
      if (!edns.ok()) return edns.status();
      m.edns = *edns;
      m.header.rcode = static_cast<Rcode>((rec.ttl >> 24) << 4 | static_cast<uint16_t>(m.header.rcode));
    }
  }
  return m;
}

StatusOr<std::vector<uint8_t>> serializeMessage(const Message& message, size_t limit) {
  limit = std::clamp<size_t>(limit, kHeaderSize, 65535);
  size_t reserved = message.edns ? kOptSize : 0;  // the OPT record must fit whatever else does not
  WireWriter w(limit > kHeaderSize + reserved ? limit - reserved : kHeaderSize);
  Header h = message.header;
  bool truncated = false;
  uint16_t counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 6; ++i) w.u16(0);  // the header, written last

  WireWriter::Mark afterHeader = w.mark();
  for (const Question& q : message.questions) {
    auto labels = toLabels(q.name);
    if (!labels.ok()) return labels.status();
    w.name(*labels, true);
    w.u16(static_cast<uint16_t>(q.type));
    w.u16(q.klass);
    ++counts[0];
  }
  if (w.full()) {  // not even the question fits: the header alone says so
    w.rollback(afterHeader);
    counts[0] = 0;
    truncated = true;
  }

  WireWriter::Mark afterQuestions = w.mark();
  if (!truncated) {
    using Section = std::pair<const std::vector<Record>*, uint16_t*>;
    for (auto [section, count] : {Section{&message.answers, &counts[1]}, Section{&message.authority, &counts[2]}}) {
      for (const Record& rec : *section) {
        MESHD_RETURN_IF_ERROR(writeRecord(w, rec));
        ++*count;
      }
    }
    if (w.full()) {
      w.rollback(afterQuestions);
      counts[1] = counts[2] = 0;
      truncated = true;
    }
  }
  if (!truncated) {
    const auto& additional = message.additional;
    for (size_t begin = 0; begin < additional.size();) {
      size_t end = begin + 1;
      while (end < additional.size() && sameRrset(additional[begin], additional[end])) ++end;
      WireWriter::Mark before = w.mark();
      for (size_t i = begin; i < end; ++i) MESHD_RETURN_IF_ERROR(writeRecord(w, additional[i]));
      if (w.full()) {
        w.rollback(before);  // this RRset is left out whole; a smaller later one may still fit
      } else {
        counts[3] += static_cast<uint16_t>(end - begin);
      }
      begin = end;
    }
  }

  if (message.edns) {
    w.setLimit(limit);
    WireWriter::Mark beforeOpt = w.mark();
    uint16_t rcode = static_cast<uint16_t>(h.rcode);
    w.u8(0);
    w.u16(static_cast<uint16_t>(RecordType::kOpt));
    w.u16(message.edns->udpSize);
    w.u32(static_cast<uint32_t>(rcode >> 4) << 24 | static_cast<uint32_t>(message.edns->version) << 16 |
          (message.edns->dnssecOk ? 0x8000u : 0u));
    w.u16(0);
    if (w.full()) {
      w.rollback(beforeOpt);
    } else {
      ++counts[3];
    }
  }
  h.tc = h.tc || truncated;
  w.patchU16(0, h.id);
  w.patchU16(2, encodeFlags(h));
  for (int i = 0; i < 4; ++i) w.patchU16(4 + 2 * i, counts[i]);
  return w.take();
}

}  // namespace meshd::dns
