#pragma once
// From request bytes to response bytes: the whole of the server's DNS behaviour, without sockets, so
// that tests and the fuzz target drive exactly what the server runs. Pure; safe from any thread.

#include <cstdint>
#include <span>
#include <vector>

#include "dns/zone.h"

namespace meshd::dns {

enum class Transport { kUdp, kTcp };

// The largest UDP payload the server sends, whatever a client's EDNS size says, and the size it
// advertises in its own OPT record.
constexpr uint16_t kMaxUdpPayload = 4096;

// Answers one request. Returns no bytes when the request must be dropped: shorter than a header, or
// itself a response. Otherwise:
// - unparsable: FORMERR (the header's id, opcode and RD echoed);
// - an opcode other than QUERY: NOTIMP; not exactly one question: FORMERR; EDNS version not 0: BADVERS;
// - a class other than IN (or ANY): REFUSED; zone transfers (AXFR, IXFR): REFUSED;
// - otherwise `lookup`'s answer, AA set inside the zones, RD copied, RA never set.
// Over UDP the response fits 512 bytes, or the client's EDNS size capped at kMaxUdpPayload; what does
// not fit is truncated as serializeMessage describes. Over TCP the limit is 65535.
std::vector<uint8_t> respond(const ZoneSet& zones, std::span<const uint8_t> request, Transport transport);

}  // namespace meshd::dns
