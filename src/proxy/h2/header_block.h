#pragma once
// Header blocks between the application and nghttp2. Inbound: the fields of one block as they
// arrive, held to Envoy's limits, with the cookie crumbs of RFC 9113 §8.2.3 joined again. Outbound:
// the nghttp2_nv array for a block, in the form HTTP/2 requires whatever the head came from
// (an HTTP/1 head forwarded as is would otherwise have the peer reset the stream).

#include <string>
#include <string_view>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "proxy/h2/headers.h"

namespace meshd::proxy::h2 {

// One header block being received.
class InboundHeaders {
 public:
  // false once the block is over the limits: Envoy then resets the stream.
  bool add(std::string_view name, std::string_view value, const HeaderLimits& limits);
  // The block, with the crumbs of a split cookie as one `cookie` field at its end (so an HTTP/1
  // upstream sees one, as RFC 9113 §8.2.3 asks); resets for the next block.
  Headers take();

 private:
  Headers fields_;
  std::string cookie_;
  size_t bytes_ = 0;
  size_t count_ = 0;
};

// A block to send, as nghttp2 takes it: pseudo-headers first, names in lowercase, and without the
// connection-specific fields RFC 9113 §8.2.2 forbids (connection, keep-alive, proxy-connection,
// transfer-encoding, upgrade; te other than "trailers"). Points into `headers`: keep it alive
// while the nv array is used (nghttp2 copies it when submitting).
class OutboundHeaders {
 public:
  explicit OutboundHeaders(const Headers& headers);
  OutboundHeaders(const OutboundHeaders&) = delete;
  OutboundHeaders& operator=(const OutboundHeaders&) = delete;

  const nghttp2_nv* data() const { return nv_.data(); }
  size_t size() const { return nv_.size(); }

 private:
  void push(const std::string& name, const std::string& value);

  std::vector<nghttp2_nv> nv_;
  std::vector<std::string> lowered_;  // names that had uppercase; reserved, so never moved
};

}  // namespace meshd::proxy::h2
