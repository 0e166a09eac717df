#include "proxy/local_reply.h"

#include <ostream>

#include <boost/beast/http/status.hpp>

namespace meshd::proxy {

LocalReply badRequest() { return {400, "Bad Request", false, "http1.codec_error"}; }
LocalReply requestHeadersTooLarge() { return {431, "Request Header Fields Too Large", false, "http1.headers_too_large"}; }
LocalReply upgradeRequired() { return {426, "Upgrade Required", false, "low_version"}; }
LocalReply upgradeFailed() { return {403, "", false, "upgrade_failed"}; }

LocalReply noRoute() { return {404, "", false, "route_not_found"}; }
LocalReply clusterNotFound() { return {503, "", false, "cluster_not_found"}; }
LocalReply noHealthyUpstream() { return {503, std::string(kNoHealthyUpstream), false, "no_healthy_upstream"}; }
LocalReply upstreamTimeout(bool perTry, bool noContent) {
  return {noContent ? 204u : 504u, noContent ? std::string() : std::string(kUpstreamTimeout), false,
          perTry ? "upstream_per_try_timeout" : "response_timeout"};
}
LocalReply streamTimeout(bool requestComplete) {
  return {requestComplete ? 504u : 408u, std::string(kStreamTimeout), false, "stream_idle_timeout"};
}

std::string resetDetails(std::string_view reason, std::string_view transportFailure, bool responseStarted) {
  std::string d = responseStarted ? "upstream_reset_after_response_started{" : "upstream_reset_before_response_started{";
  d += reason;
  if (!transportFailure.empty()) {
    d += '|';
    d += transportFailure;
  }
  d += '}';
  return d;
}

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
  return {reason == kProtocolError ? 502u : 503u, body, reason == kOverflow, resetDetails(reason, transportFailure)};
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
