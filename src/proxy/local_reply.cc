#include "proxy/local_reply.h"

#include <ostream>

#include <boost/beast/http/status.hpp>

namespace meshd::proxy {

LocalReply badRequest() { return {400, "Bad Request"}; }
LocalReply requestHeadersTooLarge() { return {431, "Request Header Fields Too Large"}; }
LocalReply upgradeFailed() { return {403, ""}; }

LocalReply noRoute() { return {404, ""}; }
LocalReply clusterNotFound() { return {503, ""}; }
LocalReply noHealthyUpstream() { return {503, std::string(kNoHealthyUpstream)}; }
LocalReply upstreamTimeout() { return {504, std::string(kUpstreamTimeout)}; }
LocalReply streamTimeout(bool requestComplete) { return {requestComplete ? 504u : 408u, std::string(kStreamTimeout)}; }

LocalReply upstreamReset(std::string_view reason, std::string_view transportFailure, bool retried) {
  std::string body(kUpstreamResetPrefix);
  if (retried) body += kRetriedPrefix;
  body += "reset reason: ";
  body += reason;
  if (!transportFailure.empty()) {
    body += ", transport failure reason: ";
    body += transportFailure;
  }
  // As Envoy's router: a protocol error is the upstream's fault; an overflow drops the request.
  return {reason == kProtocolError ? 502u : 503u, body, reason == kOverflow};
}

std::string serialize(const LocalReply& r, bool keepAlive) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                    std::string(boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(r.status))) +
                    "\r\n";
  if (r.overloaded) out += "x-envoy-overloaded: true\r\n";
  if (!r.body.empty()) {
    out += "content-length: " + std::to_string(r.body.size()) + "\r\ncontent-type: text/plain\r\n";
  } else {
    out += "content-length: 0\r\n";
  }
  if (!keepAlive) out += "connection: close\r\n";
  out += "\r\n" + r.body;
  return out;
}

}  // namespace meshd::proxy
