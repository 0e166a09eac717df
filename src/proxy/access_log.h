#pragma once
// Envoy's file access log for the HTTP connection manager: the format (text with %COMMAND%
// operators, or a JSON object of them) parsed once on the main thread, lines appended to the file by
// any worker. Thread-safety: AccessLog is immutable after construction; write() is one O_APPEND
// write(2) per line, which the kernel keeps whole, so workers share it without a lock.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace meshd::proxy {

// What one request left for the log.
struct RequestLog {
  std::chrono::system_clock::time_point start;
  std::string method, path, protocol = "HTTP/1.1", authority, userAgent, forwardedFor, requestId;
  unsigned responseCode = 0;
  std::string responseFlags;  // Envoy's: NR, NC, UH, UF, URX, UT, UC; several joined by ','
  uint64_t bytesReceived = 0, bytesSent = 0;
  std::chrono::milliseconds duration{0};
  std::string upstreamHost, upstreamCluster, downstreamRemote;
  std::string upstreamLocal;      // UPSTREAM_LOCAL_ADDRESS: the last attempt's connection's own address
  std::string upstreamProtocol;   // UPSTREAM_PROTOCOL: "HTTP/1.1" or "HTTP/2", once an attempt was made
  std::string routeName;          // ROUTE_NAME
  std::string filterChainName;    // FILTER_CHAIN_NAME
  // RESPONSE_CODE_DETAILS, Envoy's: "via_upstream", "route_not_found", "no_healthy_upstream",
  // "upstream_reset_before_response_started{remote connection failure|delayed connect error: ...}",
  // ...; its blanks print as '_' unless the operator says ALLOW_WHITESPACES.
  std::string details;
  std::string localReplyBody;     // LOCAL_REPLY_BODY
  uint64_t connectionId = 0;      // CONNECTION_ID: the downstream connection's (nextConnectionId())
  const char* type = "DownstreamEnd";  // ACCESS_LOG_TYPE: the TCP proxy's is "TcpConnectionEnd"
  // GRPC_STATUS: only for a gRPC request (its content-type), as Envoy's: the response's trailers'
  // grpc-status, else its head's, else its HTTP status mapped (finishGrpcStatus()).
  bool grpc = false;
  std::optional<uint32_t> grpcStatus;
  std::string transportFailure;   // UPSTREAM_TRANSPORT_FAILURE_REASON: "delayed connect error: ..."
  uint32_t attempts = 0;          // UPSTREAM_REQUEST_ATTEMPT_COUNT
  // RESPONSE_DURATION: from the request's start to the upstream response's head; none without one.
  std::optional<std::chrono::milliseconds> responseDuration;
  // REQUEST_DURATION: from the start to the request's last byte; none while it was still coming.
  std::optional<std::chrono::milliseconds> requestDuration;
  // REQUEST_TX_DURATION: from the start to the request's last byte sent upstream (the last attempt).
  std::optional<std::chrono::milliseconds> requestTxDuration;
  std::chrono::steady_clock::time_point startedAt;  // `start` on the steady clock, for the durations
  // The request's other fields that REQ(...) operators name, and the proxied response's fields that
  // RESP(...) operators name (lowercase name, value): copied only when a log asks for them
  // (FilterChainView::loggedRequestFields, loggedResponseFields).
  std::vector<std::pair<std::string, std::string>> requestFields, responseFields;
  std::vector<std::pair<std::string, std::string>> trailerFields;  // TRAILER(...): the response's HTTP/2 trailers
  // Envoy's DOWNSTREAM_LOCAL_ADDRESS: the original destination when the connection was redirected
  // (always set: an ORIGINAL_DST cluster's requests go there).
  boost::asio::ip::tcp::endpoint downstreamLocal;

  void addFlag(const std::string& f) { responseFlags += (responseFlags.empty() ? "" : ",") + f; }
};

// An address and port as Envoy prints them: [v6]:port, v4:port, and an IPv4 peer of a dual-stack
// socket (::ffff:a.b.c.d) as IPv4.
std::string endpointText(const boost::asio::ip::tcp::endpoint& e);

// A process-wide number for each downstream connection, from 1, as Envoy's connection ids.
uint64_t nextConnectionId();

// Envoy's default text format.
inline constexpr const char* kDefaultAccessLogFormat =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
    "%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
    "\"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

class AccessLogFormat {
 public:
  // A text format; an empty one is Envoy's default. BadRequest with Envoy's reason for a format
  // Envoy rejects: an operator it does not have ("Not supported field in StreamInfo: X"), one given
  // an argument or length it does not take, a '%' that starts no operator.
  static StatusOr<AccessLogFormat> text(const std::string& format);
  // A JSON format: each key's value is itself a text format; one JSON object per line.
  static StatusOr<AccessLogFormat> json(const std::map<std::string, std::string>& fields);

  std::string format(const RequestLog& r) const;
  // The request fields its REQ(...) operators name (but those RequestLog has fields of its own for),
  // and the response fields its RESP(...) operators name; lowercase.
  std::vector<std::string> requestFields() const;
  std::vector<std::string> responseFields() const;
  std::vector<std::string> trailerFields() const;  // what its TRAILER(...) operators name

 private:
  struct Piece {
    bool literal = true;
    std::string text;     // the literal, or the command name
    std::string arg;      // REQ(...) / START_TIME(...) argument
    std::optional<size_t> maxLength;  // REQ(...):N
  };
  static StatusOr<std::vector<Piece>> parse(const std::string& f);
  // The lowercase arguments of its `op` operators, each once; REQ's alternatives (A?B) apart.
  std::vector<std::string> arguments(const std::string& op) const;
  static std::string render(const std::vector<Piece>& pieces, const RequestLog& r);
  // An operator's value; none when there is none (text shows "-", typed JSON null).
  static std::optional<std::string> value(const Piece& p, const RequestLog& r);
  static std::string untruncated(const Piece& p, const RequestLog& r);
  // Whether json_format types the operator as a number (Envoy's formatters that give one).
  static bool numeric(const std::string& op);

  std::vector<Piece> text_;
  std::vector<std::pair<std::string, std::vector<Piece>>> json_;
  bool isJson_ = false;
};

class AccessLog {
 public:
  // Opens `path` for appending (created 0644); BadRequest when it cannot.
  static StatusOr<std::shared_ptr<const AccessLog>> open(const std::string& path, AccessLogFormat format);
  ~AccessLog();
  void write(const RequestLog& r) const;
  const AccessLogFormat& format() const { return format_; }

 private:
  AccessLog(int fd, AccessLogFormat format) : fd_(fd), format_(std::move(format)) {}
  int fd_;
  AccessLogFormat format_;
};

}  // namespace meshd::proxy
