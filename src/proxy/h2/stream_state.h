#pragma once
// What a Codec keeps per stream, from its first HEADERS frame (sent or received) until nghttp2
// closes it. Internal to the codec (codec.cc and session_callbacks.cc).

#include <cstddef>
#include <optional>
#include <string>

#include "proxy/h2/header_block.h"

namespace meshd::proxy::h2 {

struct StreamState {
  InboundHeaders in;                  // the header block being received
  bool announced = false;             // the application knows the stream
  bool finalHeadersReceived = false;  // a later HEADERS frame carries trailers
  bool remoteEnded = false;
  bool localEnded = false;            // END_STREAM went out
  size_t unconsumed = 0;              // received body the application has not consumed yet

  bool headSubmitted = false;
  bool headOut = false;               // our HEADERS frame went out (a request may wait for a slot)
  bool bodyProvider = false;          // our head went without END_STREAM: the body comes from `out`
  std::string out;                    // submitted body not framed yet, from outPos
  size_t outPos = 0;
  bool outEnded = false;              // the application ended its side
  std::optional<Headers> trailers;    // to send once `out` is framed
  bool deferred = false;              // nghttp2 waits for submitData to resume the stream
  bool resetWhenEnded = false;        // RST_STREAM(NO_ERROR) once END_STREAM is out
};

}  // namespace meshd::proxy::h2
