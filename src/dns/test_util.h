#pragma once
// Test-data builders shared by the dns tests: queries as bytes and a
// small zone set with one of each kind of name.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dns/zone.h"

namespace meshd::dns {

// Readable failures: "web.example.local A ttl=60".
inline void PrintTo(const Record& r, std::ostream* os) {
  *os << '"' << r.name << "\" type=" << static_cast<uint16_t>(r.type) << " ttl=" << r.ttl;
}

}  // namespace meshd::dns

namespace meshd::dns::testing {

inline std::vector<uint8_t> makeQuery(const std::string& name, RecordType type, std::optional<uint16_t> ednsSize = {},
                                      uint16_t id = 0x1234) {
  Message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back({name, type, kClassIn});
  if (ednsSize) m.edns = Edns{*ednsSize, 0, false};
  return std::move(serializeMessage(m)).value();
}

inline Zone zoneAt(const std::string& apex) {
  Zone z;
  z.apex = apex;
  return z;
}

inline Message parseOrDie(const std::vector<uint8_t>& bytes) {
  auto m = parseMessage(bytes);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : Message{};
}

// example.local (SOA minimum 60, so negative answers live 60 s) holding:
//   web        A 10.0.0.1, 10.0.0.2          v6     AAAA fd00::1
//   api        SRV 1 10 8080 i-1.api, SRV 1 10 8080 other.example.com
//   i-1.api    A 10.0.1.1, AAAA fd00::2      alias  CNAME web
//   ext        CNAME www.elsewhere.com       dangling CNAME missing
//   loop1      CNAME loop2, loop2 CNAME loop1
//   a.b.c      A 10.0.2.1 (so b.c and c are empty non-terminals)
//   many       A 10.1.0.0 .. 10.1.0.59       ns1    A 10.0.0.53
inline std::shared_ptr<const ZoneSet> exampleZones() {
  ZoneSetBuilder b;
  Zone z;
  z.apex = "example.local";
  z.minimum = 60;
  EXPECT_TRUE(b.addZone(z).ok());
  auto ok = [](const Status& s) { EXPECT_TRUE(s.ok()) << s.message(); };
  ok(b.addA("web.example.local", "10.0.0.1", 60));
  ok(b.addA("web.example.local", "10.0.0.2", 60));
  ok(b.addAaaa("v6.example.local", "fd00::1", 60));
  ok(b.addSrv("api.example.local", 1, 10, 8080, "i-1.api.example.local", 60));
  ok(b.addSrv("api.example.local", 1, 10, 8080, "other.example.com", 60));
  ok(b.addA("i-1.api.example.local", "10.0.1.1", 60));
  ok(b.addAaaa("i-1.api.example.local", "fd00::2", 60));
  ok(b.addCname("alias.example.local", "web.example.local", 30));
  ok(b.addCname("ext.example.local", "www.elsewhere.com", 30));
  ok(b.addCname("dangling.example.local", "missing.example.local", 30));
  ok(b.addCname("loop1.example.local", "loop2.example.local", 30));
  ok(b.addCname("loop2.example.local", "loop1.example.local", 30));
  ok(b.addA("a.b.c.example.local", "10.0.2.1", 60));
  for (int i = 0; i < 60; ++i) ok(b.addA("many.example.local", "10.1.0." + std::to_string(i), 60));
  ok(b.addA("ns1.example.local", "10.0.0.53", 60));
  return b.build();
}

}  // namespace meshd::dns::testing
