#pragma once
// Relays an upstream response downstream as it arrives: the head at once (with the first piece of
// the body when the upstream sent it along), then each piece of the body as the upstream produces
// it, so a slow producer's first bytes reach the client before its last are made, and the proxy
// holds one piece at a time however big the body. The upstream connection goes back to the pool
// when the response was read to its end and both sides keep it alive. Worker thread only.

#include <chrono>
#include <string>

#include "proxy/http_write.h"
#include "proxy/upstream.h"

namespace meshd::proxy {

struct RelayResult {
  // kUpstreamTimeout / kUpstreamReset: the response was cut after its head went downstream (the
  // route's deadline passed, or the upstream closed or sent a malformed body); the downstream
  // connection must be closed, as Envoy resets the stream. kDownstreamReset: the client went away.
  enum Kind { kDone, kUpstreamTimeout, kUpstreamReset, kDownstreamReset };
  Kind kind = kDone;
  uint64_t bodyBytes = 0;  // body bytes written downstream (framing excluded)
};

// `head`: the response head as it goes downstream (hop-by-hop headers replaced by `framing`'s).
// `writeTimeout` bounds each write to the client.
// `upstreamDeadline` (the route's) bounds the upstream.
Task<RelayResult> relayResponse(TimedStream& downstream, UpstreamResponse& up, const std::string& head, Framing framing,
                                std::chrono::steady_clock::time_point upstreamDeadline,
                                std::chrono::milliseconds writeTimeout, UpstreamPool& pool);

}  // namespace meshd::proxy
