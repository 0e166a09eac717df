#pragma once
// Envoy's local replies, byte for byte: the status, body and headers Envoy itself answers with when
// it cannot proxy a request. A non-empty reply carries content-type: text/plain and content-length;
// an empty one carries neither. Pure; safe from any thread.

#include <string>
#include <string_view>

namespace meshd::proxy {

// Envoy's reply bodies and the pieces of its reset reasons.
inline constexpr std::string_view kNoHealthyUpstream = "no healthy upstream";
inline constexpr std::string_view kUpstreamTimeout = "upstream request timeout";
inline constexpr std::string_view kStreamTimeout = "stream timeout";
inline constexpr std::string_view kUpstreamResetPrefix = "upstream connect error or disconnect/reset before headers. ";
inline constexpr std::string_view kRetriedPrefix = "retried and the latest ";
inline constexpr std::string_view kRemoteConnectionFailure = "remote connection failure";
inline constexpr std::string_view kConnectionTimeout = "connection timeout";
inline constexpr std::string_view kConnectionTermination = "connection termination";
inline constexpr std::string_view kOverflow = "overflow";
inline constexpr std::string_view kProtocolError = "protocol error";

struct LocalReply {
  unsigned status = 0;
  std::string body;  // empty: no content-type, no content-length body headers
  bool overloaded = false;  // x-envoy-overloaded: true, first (Envoy's router, for a dropped request)
  // Envoy's response code details for it (the access log's RESPONSE_CODE_DETAILS); not sent.
  std::string details;

  bool operator==(const LocalReply& o) const {
    return status == o.status && body == o.body && overloaded == o.overloaded;
  }
};

// The HTTP/1 codec's replies to a request it cannot parse (DPE), then the connection closes: the
// status's reason phrase is the body.
LocalReply badRequest();                    // 400 "Bad Request"
LocalReply requestHeadersTooLarge();        // 431 "Request Header Fields Too Large" (over 60 KiB)
LocalReply upgradeRequired();               // 426 "Upgrade Required": HTTP/1.0 not accepted
LocalReply noRoute();           // 404, empty (NR)
LocalReply upgradeFailed();     // 403, empty: an upgrade no upgrade_configs allows
LocalReply clusterNotFound();   // 503, empty (NC)
LocalReply noHealthyUpstream(); // 503 (UH)
// 504 (UT); details say whether a try's timeout ended it. `noContent`: the request asked for 204
// with no body instead (x-envoy-upstream-rq-timeout-alt-response).
LocalReply upstreamTimeout(bool perTry = false, bool noContent = false);
// "stream timeout" (SI): the stream's idle timer (the route's idle_timeout, else the connection
// manager's 5 minutes) ran out before the response's head. 504 once the request had ended, 408 while
// its body was still coming (Envoy's maybeRequestTimeoutCode).
LocalReply streamTimeout(bool requestComplete);

// 503 after the upstream could not be reached or reset before its response headers (UF / URX), or
// when a circuit breaker overflowed (UO, "overflow": then also x-envoy-overloaded), 502
// when its response head was malformed or too large (UPE). `reason` is Envoy's reset reason
// ("remote connection failure", "connection termination", "connection timeout", "protocol error"); `transportFailure` the socket error's text ("Connection refused"), empty
// when there is none; `retried` when retries ran and this was the last attempt's reason.
LocalReply upstreamReset(std::string_view reason, std::string_view transportFailure, bool retried);

// Envoy's details for a reset before (or after) the response started: "upstream_reset_before_response_started{
// reason|transport failure}" (the access log writes its blanks as '_').
std::string resetDetails(std::string_view reason, std::string_view transportFailure, bool responseStarted = false);

// The reply as HTTP/1.1 bytes, as Envoy writes it (date and server headers excepted).
std::string serialize(const LocalReply& r, bool keepAlive);

}  // namespace meshd::proxy
