// libFuzzer target for everything the DNS server does with bytes it did not write: parse them, answer
// them from a small fixed ZoneSet over both transports, and serialize. Built and run by
// tools/fuzz_dns.sh (clang, ASan, UBSan); a crash, a sanitizer report or a broken invariant below
// (trapped) is a failure.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dns/message.h"
#include "dns/responder.h"
#include "dns/zone.h"

namespace {

using namespace meshd::dns;

// One name of each kind, so answers exercise CNAME chains, SRV additionals, negative answers,
// truncation (`many`) and compression of a variety of names.
const ZoneSet& fixedZones() {
  static const std::shared_ptr<const ZoneSet> zones = [] {
    ZoneSetBuilder b;
    Zone z;
    z.apex = "example.local";
    (void)b.addZone(z);
    z.apex = "sub.example.local";
    (void)b.addZone(z);
    (void)b.addA("web.example.local", "10.0.0.1", 60);
    (void)b.addAaaa("web.example.local", "fd00::1", 60);
    (void)b.addSrv("api.example.local", 1, 1, 8080, "i-1.api.example.local", 60);
    (void)b.addA("i-1.api.example.local", "10.0.1.1", 60);
    (void)b.addCname("alias.example.local", "web.example.local", 30);
    (void)b.addCname("loop.example.local", "loop.sub.example.local", 30);
    (void)b.addCname("loop.sub.example.local", "loop.example.local", 30);
    (void)b.addA("a.b.c.example.local", "10.0.2.1", 60);
    (void)b.addA("ns1.example.local", "10.0.0.53", 60);
    for (int i = 0; i < 40; ++i) (void)b.addA("many.example.local", "10.1.0." + std::to_string(i), 60);
    return b.build();
  }();
  return *zones;
}

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);

  auto parsed = parseMessage(input);
  if (parsed.ok()) {
    // What was parsed must serialize into something that parses again. Unless the result had to be
    // truncated (TC), the question, answer and authority sections are all there; additional RRsets
    // may be left out whole.
    Message copy = *parsed;
    copy.header.tc = false;
    auto bytes = serializeMessage(copy);
    check(bytes.ok());
    auto again = parseMessage(*bytes);
    check(again.ok());
    if (!again->header.tc) {
      check(again->questions.size() == parsed->questions.size());
      check(again->answers.size() == parsed->answers.size());
      check(again->authority.size() == parsed->authority.size());
      check(again->additional.size() <= parsed->additional.size());
    }
  }

  for (Transport transport : {Transport::kUdp, Transport::kTcp}) {
    std::vector<uint8_t> out = respond(fixedZones(), input, transport);
    if (out.empty()) continue;
    // Every response is well formed, is a response, keeps the id and fits the transport's limit.
    auto response = parseMessage(out);
    check(response.ok());
    check(response->header.qr);
    check(response->header.id == static_cast<uint16_t>(data[0] << 8 | data[1]));
    size_t udpLimit = parsed.ok() && parsed->edns ? kMaxUdpPayload : kMinUdpPayload;
    check(transport == Transport::kTcp || out.size() <= udpLimit);
  }
  return 0;
}
