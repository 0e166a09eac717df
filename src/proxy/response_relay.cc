#include "proxy/response_relay.h"

#include "proxy/body_reader.h"

namespace meshd::proxy {

namespace beast = boost::beast;

Task<RelayResult> relayResponse(TimedStream& downstream, UpstreamResponse& up, const std::string& head, Framing framing,
                                std::chrono::steady_clock::time_point upstreamDeadline,
                                std::chrono::milliseconds writeTimeout, UpstreamPool& pool) {
  RelayResult result;
  {
    BodySource& reader = up.body(upstreamDeadline);
    beast::error_code upEc, downEc;
    PieceWrite write;
    std::string_view piece;
    // What came with the head goes with it; otherwise the head goes alone, now (a slow upstream's
    // headers are not held back until its first bytes of body).
    if (!reader.done() && reader.ready()) piece = co_await reader.next(upEc);
    bool first = true;
    while (!upEc) {
      downstream.expiresAfter(writeTimeout);
      if (!write.sendNow(downstream, first ? std::string_view(head) : std::string_view(), piece, framing,
                         reader.done(), downEc)) {
        co_await write.rest(downstream, downEc);
      }
      first = false;
      result.bodyBytes += piece.size();
      if (downEc || reader.done()) break;
      piece = co_await reader.next(upEc);
    }
    if (first && upEc) {  // the first piece failed: the head was not written either
      downstream.expiresAfter(writeTimeout);
      co_await write.write(downstream, head, {}, Framing::kRaw, false, downEc);
    }
    if (downEc) {
      result.kind = RelayResult::kDownstreamReset;
    } else if (upEc) {
      result.kind = upEc == beast::error::timeout ? RelayResult::kUpstreamTimeout : RelayResult::kUpstreamReset;
    }
  }
  up.release(result.kind == RelayResult::kDone, pool);
  co_return result;
}

}  // namespace meshd::proxy
