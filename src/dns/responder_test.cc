#include "dns/responder.h"

#include <gtest/gtest.h>

#include "dns/test_util.h"

namespace meshd::dns {
namespace {

using testing::makeQuery;
using testing::parseOrDie;
using Bytes = std::vector<uint8_t>;

class ResponderTest : public ::testing::Test {
 protected:
  Message ask(const Bytes& query, Transport transport = Transport::kUdp) {
    Bytes out = respond(*zones_, query, transport);
    EXPECT_FALSE(out.empty());
    return parseOrDie(out);
  }

  std::shared_ptr<const ZoneSet> zones_ = testing::exampleZones();
};

TEST_F(ResponderTest, AnswersAuthoritativelyAndEchoesTheQuestion) {
  Message r = ask(makeQuery("WEB.example.local", RecordType::kA));
  EXPECT_EQ(r.header.id, 0x1234);
  EXPECT_TRUE(r.header.qr);
  EXPECT_TRUE(r.header.aa);
  EXPECT_TRUE(r.header.rd) << "copied";
  EXPECT_FALSE(r.header.ra) << "no recursion here";
  EXPECT_EQ(r.header.rcode, Rcode::kNoError);
  ASSERT_EQ(r.questions.size(), 1u);
  EXPECT_EQ(r.questions[0].name, "WEB.example.local");
  ASSERT_EQ(r.answers.size(), 2u);
  EXPECT_EQ(r.answers[0].name, "WEB.example.local") << "the asker's spelling";
  EXPECT_FALSE(r.edns.has_value()) << "no OPT unless asked with one";
}

TEST_F(ResponderTest, DistinguishesNxdomainNodataAndRefused) {
  Message nx = ask(makeQuery("nope.example.local", RecordType::kA));
  EXPECT_EQ(nx.header.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(nx.header.aa);
  EXPECT_EQ(nx.authority.size(), 1u);

  Message nodata = ask(makeQuery("web.example.local", RecordType::kAaaa));
  EXPECT_EQ(nodata.header.rcode, Rcode::kNoError);
  EXPECT_TRUE(nodata.answers.empty());
  EXPECT_EQ(nodata.authority.size(), 1u);

  Message refused = ask(makeQuery("example.com", RecordType::kA));
  EXPECT_EQ(refused.header.rcode, Rcode::kRefused);
  EXPECT_FALSE(refused.header.aa);
}

TEST_F(ResponderTest, DropsWhatCannotBeAnswered) {
  EXPECT_TRUE(respond(*zones_, Bytes(11, 0), Transport::kUdp).empty()) << "no whole header";
  Bytes response = makeQuery("web.example.local", RecordType::kA);
  response[2] |= 0x80;  // QR: a response
  EXPECT_TRUE(respond(*zones_, response, Transport::kUdp).empty());
}

TEST_F(ResponderTest, AnswersGarbageWithFormerrKeepingTheId) {
  Bytes garbage = {0xBE, 0xEF, 0x01, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x0C, 0x01};
  Message r = ask(garbage);
  EXPECT_EQ(r.header.id, 0xBEEF);
  EXPECT_EQ(r.header.rcode, Rcode::kFormErr);
  EXPECT_TRUE(r.header.rd);
  EXPECT_TRUE(r.questions.empty());
}

TEST_F(ResponderTest, RequiresExactlyOneQuestion) {
  Message two;
  two.questions = {{"web.example.local", RecordType::kA, kClassIn}, {"v6.example.local", RecordType::kA, kClassIn}};
  EXPECT_EQ(ask(serializeMessage(two).value()).header.rcode, Rcode::kFormErr);
  EXPECT_EQ(ask(serializeMessage(Message{}).value()).header.rcode, Rcode::kFormErr);
}

TEST_F(ResponderTest, RefusesWhatItDoesNotServe) {
  Message notify;
  notify.header.opcode = 4;
  notify.questions.push_back({"example.local", RecordType::kSoa, kClassIn});
  EXPECT_EQ(ask(serializeMessage(notify).value()).header.rcode, Rcode::kNotImp);

  Message chaos;
  chaos.questions.push_back({"version.bind", static_cast<RecordType>(16), 3});
  EXPECT_EQ(ask(serializeMessage(chaos).value()).header.rcode, Rcode::kRefused);

  EXPECT_EQ(ask(makeQuery("example.local", RecordType::kAxfr), Transport::kTcp).header.rcode, Rcode::kRefused);
}

TEST_F(ResponderTest, AnswersEdnsWithOptAndBadversForUnknownVersions) {
  Message r = ask(makeQuery("web.example.local", RecordType::kA, 1232));
  ASSERT_TRUE(r.edns.has_value());
  EXPECT_EQ(r.edns->udpSize, kMaxUdpPayload);

  Message v1;
  v1.questions.push_back({"web.example.local", RecordType::kA, kClassIn});
  v1.edns = Edns{1232, 1, false};
  Message bad = ask(serializeMessage(v1).value());
  EXPECT_EQ(bad.header.rcode, Rcode::kBadVers);
  EXPECT_TRUE(bad.answers.empty());
  EXPECT_TRUE(bad.edns.has_value());
}

TEST_F(ResponderTest, TruncatesOverUdpToTheClientsSize) {
  Message plain = ask(makeQuery("many.example.local", RecordType::kA));
  EXPECT_TRUE(plain.header.tc);
  EXPECT_TRUE(plain.answers.empty());
  EXPECT_EQ(plain.questions.size(), 1u);

  Message small = ask(makeQuery("many.example.local", RecordType::kA, 100));
  EXPECT_TRUE(small.header.tc) << "an EDNS size below 512 counts as 512";

  Message big = ask(makeQuery("many.example.local", RecordType::kA, 4096));
  EXPECT_FALSE(big.header.tc);
  EXPECT_EQ(big.answers.size(), 60u);

  Message tcp = ask(makeQuery("many.example.local", RecordType::kA), Transport::kTcp);
  EXPECT_FALSE(tcp.header.tc);
  EXPECT_EQ(tcp.answers.size(), 60u);
}

TEST_F(ResponderTest, CapsTheUdpSizeAt4096) {
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("example.local")).ok());
  for (int i = 0; i < 300; ++i) {  // 300 * 16 bytes: more than 4096, less than 65535
    ASSERT_TRUE(b.addA("huge.example.local", "10.2." + std::to_string(i / 256) + "." + std::to_string(i % 256), 5).ok());
  }
  auto zones = b.build();
  Bytes udp = respond(*zones, makeQuery("huge.example.local", RecordType::kA, 65000), Transport::kUdp);
  EXPECT_LE(udp.size(), 512u) << "header, question and OPT only";
  EXPECT_TRUE(parseOrDie(udp).header.tc);
  EXPECT_EQ(parseOrDie(respond(*zones, makeQuery("huge.example.local", RecordType::kA), Transport::kTcp)).answers.size(),
            300u);
}

TEST_F(ResponderTest, EmptyZoneSetRefusesEverything) {
  ZoneSet none;
  Bytes out = respond(none, makeQuery("web.example.local", RecordType::kA), Transport::kUdp);
  EXPECT_EQ(parseOrDie(out).header.rcode, Rcode::kRefused);
}

}  // namespace
}  // namespace meshd::dns
