#include "dns/message.h"

#include <gtest/gtest.h>

#include "dns/test_util.h"

namespace meshd::dns {
namespace {

using testing::makeQuery;
using testing::parseOrDie;
using Bytes = std::vector<uint8_t>;

// A header with the given counts, then `rest` verbatim.
Bytes packet(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar, const Bytes& rest) {
  Bytes b;
  b.reserve(kHeaderSize + rest.size());
  for (uint16_t v : {uint16_t{0xABCD}, uint16_t{0x0100}, qd, an, ns, ar}) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

Message allTypes() {
  Message m;
  m.header = {.id = 7, .qr = true, .opcode = 0, .aa = true, .rd = true, .rcode = Rcode::kNxDomain};
  m.questions.push_back({"svc.example.local", RecordType::kSrv, kClassIn});
  m.answers.push_back({"svc.example.local", RecordType::kSrv, kClassIn, 60, SrvData{1, 2, 8080, "i-1.svc.example.local"}});
  m.answers.push_back({"alias.example.local", RecordType::kCname, kClassIn, 30, CnameData{"svc.example.local"}});
  m.authority.push_back({"example.local", RecordType::kSoa, kClassIn, 900,
                         SoaData{"ns1.example.local", "hostmaster.example.local", 1, 2, 3, 4, 5}});
  m.authority.push_back({"example.local", RecordType::kNs, kClassIn, 900, NsData{"ns1.example.local"}});
  m.additional.push_back({"i-1.svc.example.local", RecordType::kA, kClassIn, 60, Ipv4{10, 0, 0, 1}});
  m.additional.push_back({"i-1.svc.example.local", RecordType::kAaaa, kClassIn, 60,
                          Ipv6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}});
  m.additional.push_back({"txt.example.local", static_cast<RecordType>(16), kClassIn, 5, RawData{{3, 'a', 'b', 'c'}}});
  m.edns = Edns{1232, 0, true};
  return m;
}

TEST(MessageTest, RoundTripsEveryRecordType) {
  Message m = allTypes();
  Bytes bytes = serializeMessage(m).value();
  Message back = parseOrDie(bytes);
  EXPECT_EQ(back.header.id, 7);
  EXPECT_TRUE(back.header.qr && back.header.aa && back.header.rd);
  EXPECT_FALSE(back.header.tc || back.header.ra);
  EXPECT_EQ(back.header.rcode, Rcode::kNxDomain);
  ASSERT_EQ(back.questions.size(), 1u);
  EXPECT_EQ(back.questions[0].name, "svc.example.local");
  EXPECT_EQ(back.questions[0].type, RecordType::kSrv);
  EXPECT_EQ(back.answers, m.answers);
  EXPECT_EQ(back.authority, m.authority);
  EXPECT_EQ(back.additional, m.additional);
  ASSERT_TRUE(back.edns.has_value());
  EXPECT_EQ(back.edns->udpSize, 1232);
  EXPECT_TRUE(back.edns->dnssecOk);
}

TEST(MessageTest, CompressesRepeatedNamesCaseInsensitively) {
  Message m;
  m.questions.push_back({"Web.Example.local", RecordType::kA, kClassIn});
  for (uint8_t i = 1; i <= 3; ++i) {
    m.answers.push_back({"web.example.local", RecordType::kA, kClassIn, 60, Ipv4{10, 0, 0, i}});
  }
  Bytes bytes = serializeMessage(m).value();
  // header + question (19-byte name, type, class) + 3 answers of pointer, fixed fields and address
  EXPECT_EQ(bytes.size(), 12u + 19 + 4 + 3 * (2 + 10 + 4));
  EXPECT_EQ(bytes[12 + 23], 0xC0);
  EXPECT_EQ(bytes[12 + 24], 12);
  Message back = parseOrDie(bytes);
  ASSERT_EQ(back.answers.size(), 3u);
  EXPECT_EQ(back.answers[2].name, "Web.Example.local") << "the owner now points at the question's spelling";
  EXPECT_EQ(back.answers[2].data, m.answers[2].data);
}

TEST(MessageTest, LeavesSrvTargetsUncompressed) {
  Message m;
  m.questions.push_back({"svc.example.local", RecordType::kSrv, kClassIn});
  m.answers.push_back({"svc.example.local", RecordType::kSrv, kClassIn, 60, SrvData{0, 0, 80, "svc.example.local"}});
  Bytes bytes = serializeMessage(m).value();
  // owner pointer (2) + fixed (10) + priority/weight/port (6) + the target in full (19)
  EXPECT_EQ(bytes.size(), 12u + 19 + 4 + 2 + 10 + 6 + 19);
}

TEST(MessageTest, ReadsCompressedNames) {
  // Question "a.b", then an answer whose owner is "x" + pointer to offset 14 ("b").
  Bytes b = packet(1, 1, 0, 0, {1, 'a', 1, 'b', 0, 0, 1, 0, 1, 1, 'x', 0xC0, 14, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4});
  Message m = parseOrDie(b);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "x.b");
  EXPECT_EQ(m.answers[0].data, Rdata(Ipv4{1, 2, 3, 4}));
}

TEST(MessageTest, RejectsCompressionPointerLoops) {
  // A name that points to itself.
  EXPECT_EQ(parseMessage(packet(1, 0, 0, 0, {0xC0, 12, 0, 1, 0, 1})).status().kind(), ErrorKind::kBadRequest);
  // A label, then a pointer back to the start of its own name.
  EXPECT_FALSE(parseMessage(packet(1, 0, 0, 0, {1, 'a', 0xC0, 12, 0, 1, 0, 1})).ok());
  // Two names pointing at each other: the second to the first, whose pointer goes forward.
  EXPECT_FALSE(parseMessage(packet(2, 0, 0, 0, {0xC0, 18, 0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1})).ok());
}

TEST(MessageTest, RejectsForwardPointers) {
  EXPECT_FALSE(parseMessage(packet(1, 0, 0, 0, {0xC0, 20, 0, 1, 0, 1, 0, 0, 1, 'a', 0})).ok());
}

TEST(MessageTest, RejectsReservedLabelTypesAndLongNames) {
  Bytes label64 = {0x40};
  label64.insert(label64.end(), 64, 'a');
  label64.insert(label64.end(), {0, 0, 1, 0, 1});
  EXPECT_FALSE(parseMessage(packet(1, 0, 0, 0, label64)).ok());
  EXPECT_FALSE(parseMessage(packet(1, 0, 0, 0, {0x80, 'a', 0, 0, 1, 0, 1})).ok());

  // Four 63-byte labels, written as one 63-byte label plus a pointer to a 193-byte name: 257 bytes.
  Bytes rest;
  for (int i = 0; i < 3; ++i) {
    rest.push_back(63);
    rest.insert(rest.end(), 63, 'a');
  }
  rest.insert(rest.end(), {0, 0, 1, 0, 1});
  rest.push_back(63);
  rest.insert(rest.end(), 63, 'b');
  rest.insert(rest.end(), {0xC0, 12, 0, 1, 0, 1});
  auto m = parseMessage(packet(2, 0, 0, 0, rest));
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("255"), std::string::npos) << m.status().message();
}

TEST(MessageTest, RejectsEveryTruncation) {
  Bytes full = serializeMessage(allTypes()).value();
  ASSERT_TRUE(parseMessage(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(parseMessage(std::span(full.data(), n)).ok()) << "prefix of " << n << " bytes";
  }
}

TEST(MessageTest, RejectsCountsThatLie) {
  Bytes q = makeQuery("a.example", RecordType::kA);
  q[5] = 2;  // two questions, one present
  EXPECT_FALSE(parseMessage(q).ok());
  q[5] = 1;
  q[6] = q[7] = 0xFF;  // 65535 answers, none present
  EXPECT_FALSE(parseMessage(q).ok());
}

TEST(MessageTest, RejectsRdataOfTheWrongLength) {
  // An A record with five bytes of data; a CNAME whose name runs past its RDLENGTH.
  EXPECT_FALSE(parseMessage(packet(0, 1, 0, 0, {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5})).ok());
  EXPECT_FALSE(parseMessage(packet(0, 1, 0, 0, {0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'a', 0})).ok());
}

TEST(MessageTest, ReadsEdnsAndRejectsMisplacedOpt) {
  // OPT: root owner, size 4096, extended rcode 1 (BADVERS with header rcode 0), version 0, DO.
  Bytes opt = {0, 0, 41, 0x10, 0x00, 0x01, 0x00, 0x80, 0x00, 0, 0};
  Message m = parseOrDie(packet(0, 0, 0, 1, opt));
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udpSize, 4096);
  EXPECT_TRUE(m.edns->dnssecOk);
  EXPECT_EQ(m.header.rcode, Rcode::kBadVers);
  EXPECT_TRUE(m.additional.empty());

  Bytes two = opt;
  two.insert(two.end(), opt.begin(), opt.end());
  EXPECT_FALSE(parseMessage(packet(0, 0, 0, 2, two)).ok());
  EXPECT_FALSE(parseMessage(packet(0, 1, 0, 0, opt)).ok());
  EXPECT_FALSE(parseMessage(packet(0, 0, 0, 1, {1, 'a', 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0})).ok());
  // An option whose length runs past the record.
  EXPECT_FALSE(parseMessage(packet(0, 0, 0, 1, {0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 8})).ok());
}

TEST(MessageTest, KeepsEscapedLabelsThroughTheWire) {
  Bytes b = packet(1, 0, 0, 0, {3, 'a', '.', ' ', 1, 'B', 0, 0, 1, 0, 1});
  Message m = parseOrDie(b);
  EXPECT_EQ(m.questions[0].name, R"(a\.\032.B)");
  EXPECT_EQ(serializeMessage(m).value(), b);
}

TEST(MessageTest, TruncatesToHeaderAndQuestionWhenAnswersDoNotFit) {
  Message m;
  m.header.qr = true;
  m.questions.push_back({"many.example.local", RecordType::kA, kClassIn});
  for (int i = 0; i < 60; ++i) {
    m.answers.push_back({"many.example.local", RecordType::kA, kClassIn, 60, Ipv4{10, 1, 0, static_cast<uint8_t>(i)}});
  }
  m.edns = Edns{512, 0, false};
  Bytes bytes = serializeMessage(m, 512).value();
  EXPECT_LE(bytes.size(), 512u);
  Message back = parseOrDie(bytes);
  EXPECT_TRUE(back.header.tc);
  EXPECT_EQ(back.questions.size(), 1u);
  EXPECT_TRUE(back.answers.empty());
  EXPECT_TRUE(back.edns.has_value()) << "the OPT record is kept";

  Message all = parseOrDie(serializeMessage(m, 65535).value());
  EXPECT_FALSE(all.header.tc);
  EXPECT_EQ(all.answers.size(), 60u);
}

TEST(MessageTest, NeverExceedsTheLimitNorWritesPartialRecords) {
  Message m = allTypes();
  for (uint8_t i = 0; i < 20; ++i) {
    m.answers.push_back({"svc.example.local", RecordType::kA, kClassIn, 60, Ipv4{10, 9, 0, i}});
  }
  for (size_t limit = 0; limit <= 700; ++limit) {
    Bytes bytes = serializeMessage(m, limit).value();
    EXPECT_LE(bytes.size(), std::max<size_t>(limit, kHeaderSize));
    auto back = parseMessage(bytes);
    ASSERT_TRUE(back.ok()) << "limit " << limit << ": " << back.status().message();
    if (!back->header.tc) {
      EXPECT_EQ(back->answers.size(), m.answers.size()) << limit;
      EXPECT_EQ(back->authority.size(), m.authority.size()) << limit;
    } else {
      EXPECT_TRUE(back->answers.empty() && back->authority.empty() && back->additional.empty()) << limit;
    }
  }
}

TEST(MessageTest, LeavesOutWholeAdditionalRrsetsWithoutTruncating) {
  Message m;
  m.questions.push_back({"svc.example.local", RecordType::kSrv, kClassIn});
  m.answers.push_back({"svc.example.local", RecordType::kSrv, kClassIn, 60, SrvData{0, 0, 80, "t.example.local"}});
  for (int i = 0; i < 40; ++i) {
    m.additional.push_back({"t.example.local", RecordType::kA, kClassIn, 60, Ipv4{10, 0, 0, static_cast<uint8_t>(i)}});
  }
  m.additional.push_back({"t.example.local", RecordType::kAaaa, kClassIn, 60, Ipv6{}});
  Message back = parseOrDie(serializeMessage(m, 512).value());
  EXPECT_FALSE(back.header.tc);
  EXPECT_EQ(back.answers.size(), 1u);
  ASSERT_EQ(back.additional.size(), 1u) << "the 40 A records do not fit; the AAAA after them does";
  EXPECT_EQ(back.additional[0].type, RecordType::kAaaa);
}

TEST(MessageTest, ParseHeaderNeedsTwelveBytes) {
  EXPECT_FALSE(parseHeader(Bytes(11, 0)).ok());
  auto h = parseHeader(Bytes{0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id, 0x1234);
  EXPECT_TRUE(h->qr && h->rd && h->ra);
}

}  // namespace
}  // namespace meshd::dns
