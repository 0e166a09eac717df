#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <ctime>

namespace meshd::proxy {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string startTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms % 1000));
  return out;
}

// Envoy's START_TIME(format): strftime, plus %s (seconds since the epoch) and %f / %1f..%9f (the
// fraction of the second, to that many digits; %f is nine).
std::string startTime(std::chrono::system_clock::time_point t, const std::string& format) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::string nanos = std::to_string(ns % 1000000000);
  nanos.insert(0, 9 - nanos.size(), '0');
  std::string expanded;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      expanded += format[i];
    } else if (format[i + 1] == 's') {
      expanded += std::to_string(secs);
      ++i;
    } else if (format[i + 1] == 'f') {
      expanded += nanos;
      ++i;
    } else if (format[i + 1] >= '1' && format[i + 1] <= '9' && i + 2 < format.size() && format[i + 2] == 'f') {
      expanded += nanos.substr(0, format[i + 1] - '0');
      i += 2;
    } else {
      expanded += format.substr(i, 2);  // strftime's, "%%" too
      ++i;
    }
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[512];
  size_t n = std::strftime(buf, sizeof buf, expanded.c_str(), &tm);
  return std::string(buf, n);
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

// "a.b.c.d:port" or "[v6]:port": the address alone, or the port alone.
std::string withoutPort(const std::string& hostPort) {
  size_t colon = hostPort.rfind(':');
  if (colon == std::string::npos) return hostPort;
  std::string a = hostPort.substr(0, colon);
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  return a;
}
std::string portOf(const std::string& hostPort) {
  size_t colon = hostPort.rfind(':');
  return colon == std::string::npos ? "" : hostPort.substr(colon + 1);
}


const std::string& hostName() {
  static const std::string name = [] {
    char buf[256] = {};
    return ::gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string();
  }();
  return name;
}

std::string header(const RequestLog& r, const std::string& name) {
  std::string n = upper(name);
  if (n == ":METHOD") return r.method;
  if (n == ":PATH") return r.path;
  if (n == ":AUTHORITY" || n == "HOST") return r.authority;
  if (n == "USER-AGENT") return r.userAgent;
  if (n == "X-FORWARDED-FOR") return r.forwardedFor;
  if (n == "X-REQUEST-ID") return r.requestId;
  for (const auto& [field, value] : r.requestFields) {
    if (field == lower(name)) return value;
  }
  return "";
}

// The fields RequestLog keeps of its own (see header()).
bool ownField(const std::string& lowerName) {
  for (const char* own : {":method", ":path", ":authority", "host", "user-agent", "x-forwarded-for", "x-request-id"}) {
    if (lowerName == own) return true;
  }
  return false;
}

// What an operator takes, as Envoy's CommandSyntaxChecker checks it.
enum class Takes { kNothing, kOptionalArg, kArg, kArgAndLength, kOptionalArgAndLength };

struct Operator {
  std::string_view name;
  Takes takes;
};

// Every operator Envoy's HTTP and TCP access logs have (with the formatter extensions Istio's
// format uses); those meshproxy has no data for print "-" (TLS, metadata, filter state, wire bytes).
constexpr Operator kOperators[] = {
    {"START_TIME", Takes::kOptionalArg}, {"EMIT_TIME", Takes::kOptionalArg},
    {"REQ", Takes::kArgAndLength}, {"RESP", Takes::kArgAndLength}, {"TRAILER", Takes::kArgAndLength},
    {"REQ_WITHOUT_QUERY", Takes::kArgAndLength}, {"ENVIRONMENT", Takes::kArgAndLength},
    {"DYNAMIC_METADATA", Takes::kArg}, {"CLUSTER_METADATA", Takes::kArg}, {"UPSTREAM_METADATA", Takes::kArg},
    {"METADATA", Takes::kArgAndLength}, {"CEL", Takes::kArgAndLength}, {"COMMON_DURATION", Takes::kArg},
    {"FILTER_STATE", Takes::kOptionalArgAndLength}, {"UPSTREAM_FILTER_STATE", Takes::kOptionalArgAndLength},
    {"GRPC_STATUS", Takes::kOptionalArg},
    {"DOWNSTREAM_PEER_CERT_V_START", Takes::kOptionalArg}, {"DOWNSTREAM_PEER_CERT_V_END", Takes::kOptionalArg},
    {"UPSTREAM_PEER_CERT_V_START", Takes::kOptionalArg}, {"UPSTREAM_PEER_CERT_V_END", Takes::kOptionalArg},
    {"REQUEST_DURATION", Takes::kNothing}, {"REQUEST_TX_DURATION", Takes::kNothing},
    {"RESPONSE_DURATION", Takes::kNothing}, {"RESPONSE_TX_DURATION", Takes::kNothing},
    {"DOWNSTREAM_HANDSHAKE_DURATION", Takes::kNothing}, {"ROUNDTRIP_DURATION", Takes::kNothing},
    {"DURATION", Takes::kNothing}, {"BYTES_RECEIVED", Takes::kNothing}, {"BYTES_SENT", Takes::kNothing},
    {"BYTES_RETRANSMITTED", Takes::kNothing}, {"PACKETS_RETRANSMITTED", Takes::kNothing},
    {"UPSTREAM_WIRE_BYTES_RECEIVED", Takes::kNothing}, {"UPSTREAM_HEADER_BYTES_RECEIVED", Takes::kNothing},
    {"UPSTREAM_WIRE_BYTES_SENT", Takes::kNothing}, {"UPSTREAM_HEADER_BYTES_SENT", Takes::kNothing},
    {"DOWNSTREAM_WIRE_BYTES_RECEIVED", Takes::kNothing}, {"DOWNSTREAM_HEADER_BYTES_RECEIVED", Takes::kNothing},
    {"DOWNSTREAM_WIRE_BYTES_SENT", Takes::kNothing}, {"DOWNSTREAM_HEADER_BYTES_SENT", Takes::kNothing},
    {"REQUEST_HEADERS_BYTES", Takes::kNothing}, {"RESPONSE_HEADERS_BYTES", Takes::kNothing},
    {"RESPONSE_TRAILERS_BYTES", Takes::kNothing},
    {"PROTOCOL", Takes::kNothing}, {"UPSTREAM_PROTOCOL", Takes::kNothing}, {"RESPONSE_CODE", Takes::kNothing},
    {"RESPONSE_CODE_DETAILS", Takes::kOptionalArg}, {"CONNECTION_TERMINATION_DETAILS", Takes::kNothing},
    {"RESPONSE_FLAGS", Takes::kNothing}, {"RESPONSE_FLAGS_LONG", Takes::kNothing}, {"CUSTOM_FLAGS", Takes::kNothing},
    {"UPSTREAM_HOST", Takes::kNothing}, {"UPSTREAM_HOST_NAME", Takes::kNothing},
    {"UPSTREAM_CLUSTER", Takes::kNothing}, {"UPSTREAM_CLUSTER_RAW", Takes::kNothing},
    {"UPSTREAM_LOCAL_ADDRESS", Takes::kNothing}, {"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Takes::kNothing},
    {"UPSTREAM_LOCAL_PORT", Takes::kNothing}, {"UPSTREAM_REMOTE_ADDRESS", Takes::kNothing},
    {"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Takes::kNothing}, {"UPSTREAM_REMOTE_PORT", Takes::kNothing},
    {"UPSTREAM_REQUEST_ATTEMPT_COUNT", Takes::kNothing}, {"UPSTREAM_CONNECTION_ID", Takes::kNothing},
    {"UPSTREAM_TLS_CIPHER", Takes::kNothing}, {"UPSTREAM_TLS_VERSION", Takes::kNothing},
    {"UPSTREAM_TLS_SESSION_ID", Takes::kNothing}, {"UPSTREAM_PEER_ISSUER", Takes::kNothing},
    {"UPSTREAM_PEER_CERT", Takes::kNothing}, {"UPSTREAM_PEER_SUBJECT", Takes::kNothing},
    {"DOWNSTREAM_LOCAL_ADDRESS", Takes::kNothing}, {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Takes::kNothing},
    {"DOWNSTREAM_LOCAL_PORT", Takes::kNothing}, {"DOWNSTREAM_REMOTE_ADDRESS", Takes::kNothing},
    {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Takes::kNothing}, {"DOWNSTREAM_REMOTE_PORT", Takes::kNothing},
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", Takes::kNothing},
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT", Takes::kNothing},
    {"DOWNSTREAM_DIRECT_REMOTE_PORT", Takes::kNothing}, {"CONNECTION_ID", Takes::kNothing},
    {"REQUESTED_SERVER_NAME", Takes::kNothing}, {"ROUTE_NAME", Takes::kNothing},
    {"DOWNSTREAM_PEER_URI_SAN", Takes::kNothing}, {"DOWNSTREAM_PEER_DNS_SAN", Takes::kNothing},
    {"DOWNSTREAM_PEER_IP_SAN", Takes::kNothing}, {"DOWNSTREAM_LOCAL_URI_SAN", Takes::kNothing},
    {"DOWNSTREAM_LOCAL_DNS_SAN", Takes::kNothing}, {"DOWNSTREAM_LOCAL_IP_SAN", Takes::kNothing},
    {"DOWNSTREAM_PEER_SUBJECT", Takes::kNothing}, {"DOWNSTREAM_LOCAL_SUBJECT", Takes::kNothing},
    {"DOWNSTREAM_TLS_SESSION_ID", Takes::kNothing}, {"DOWNSTREAM_TLS_CIPHER", Takes::kNothing},
    {"DOWNSTREAM_TLS_VERSION", Takes::kNothing}, {"DOWNSTREAM_PEER_FINGERPRINT_256", Takes::kNothing},
    {"DOWNSTREAM_PEER_FINGERPRINT_1", Takes::kNothing}, {"DOWNSTREAM_PEER_SERIAL", Takes::kNothing},
    {"DOWNSTREAM_PEER_ISSUER", Takes::kNothing}, {"DOWNSTREAM_PEER_CERT", Takes::kNothing},
    {"DOWNSTREAM_TRANSPORT_FAILURE_REASON", Takes::kNothing}, {"UPSTREAM_TRANSPORT_FAILURE_REASON", Takes::kNothing},
    {"HOSTNAME", Takes::kNothing}, {"FILTER_CHAIN_NAME", Takes::kNothing}, {"VIRTUAL_CLUSTER_NAME", Takes::kNothing},
    {"TLS_JA3_FINGERPRINT", Takes::kNothing}, {"STREAM_ID", Takes::kNothing}, {"TRACE_ID", Takes::kNothing},
    {"UNIQUE_ID", Takes::kNothing}, {"LOCAL_REPLY_BODY", Takes::kNothing}, {"ACCESS_LOG_TYPE", Takes::kNothing},
    {"GRPC_STATUS_NUMBER", Takes::kNothing},
};

// Envoy's check of a command's argument and length, with its messages; empty when it passes.
std::string syntaxError(const std::string& name, const std::string& arg, bool hasLength) {
  const Operator* op = nullptr;
  for (const Operator& o : kOperators) {
    if (o.name == name) op = &o;
  }
  if (!op) return "Not supported field in StreamInfo: " + name;
  bool lengthAllowed = op->takes == Takes::kArgAndLength || op->takes == Takes::kOptionalArgAndLength;
  if (op->takes == Takes::kNothing && (!arg.empty() || hasLength)) return name + " does not take any parameters or length";
  if ((op->takes == Takes::kArg || op->takes == Takes::kArgAndLength) && arg.empty()) return name + " requires parameters";
  if (!lengthAllowed && hasLength) return name + " does not allow length to be specified.";
  if ((name == "REQ" || name == "RESP" || name == "TRAILER" || name == "REQ_WITHOUT_QUERY") &&
      std::count(arg.begin(), arg.end(), '?') > 1) {
    return "More than 1 alternative header specified in token: " + arg;
  }
  if ((name == "FILTER_STATE" || name == "UPSTREAM_FILTER_STATE") && arg.empty()) {
    return "Invalid filter state configuration, key cannot be empty.";
  }
  if (name == "GRPC_STATUS" && !arg.empty() && arg != "CAMEL_STRING" && arg != "SNAKE_STRING" && arg != "NUMBER") {
    return "GrpcStatusFormatter only supports CAMEL_STRING, SNAKE_STRING or NUMBER.";
  }
  return "";
}

// Envoy's long names for its response flags (RESPONSE_FLAGS_LONG).
std::string longFlags(const std::string& flags) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"UH", "NoHealthyUpstream"}, {"UF", "UpstreamConnectionFailure"}, {"UO", "UpstreamOverflow"},
      {"NR", "NoRouteFound"}, {"URX", "UpstreamRetryLimitExceeded"}, {"NC", "NoClusterFound"},
      {"DC", "DownstreamConnectionTermination"}, {"UT", "UpstreamRequestTimeout"},
      {"UC", "UpstreamConnectionTermination"}, {"SI", "StreamIdleTimeout"}, {"UPE", "UpstreamProtocolError"},
      {"DPE", "DownstreamProtocolError"}, {"LR", "LocalReset"}, {"UR", "UpstreamRemoteReset"}};
  std::string out;
  size_t i = 0;
  while (i < flags.size()) {
    size_t comma = flags.find(',', i);
    std::string_view f = std::string_view(flags).substr(i, comma == std::string::npos ? std::string::npos : comma - i);
    std::string_view name = f;
    for (const auto& [shortName, longName] : kNames) {
      if (shortName == f) name = longName;
    }
    out += (out.empty() ? "" : ",") + std::string(name);
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  return out;
}

// GRPC_STATUS's spellings: CAMEL_STRING (the default, Envoy's grpcStatusToString), SNAKE_STRING
// (absl's StatusCodeToString) or NUMBER; a code past 16 is its number.
std::string grpcStatusName(uint32_t code, const std::string& style) {
  static constexpr std::string_view kCamel[] = {
      "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
      "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
      "Internal", "Unavailable", "DataLoss", "Unauthenticated"};
  static constexpr std::string_view kSnake[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
      "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
      "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  if (style == "NUMBER" || code > 16) return std::to_string(code);
  return std::string(style == "SNAKE_STRING" ? kSnake[code] : kCamel[code]);
}

}  // namespace

uint64_t nextConnectionId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

StatusOr<std::vector<AccessLogFormat::Piece>> AccessLogFormat::parse(const std::string& f) {
  // Envoy's command syntax: %NAME%, %NAME(ARG)% or %NAME(ARG):N%, where ARG has no ')' but may
  // have '%' (START_TIME's format); "%%" is a '%'. Any other '%' is an error, as Envoy's.
  std::vector<Piece> out;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.push_back({true, std::move(literal), ""});
    literal.clear();
  };
  size_t i = 0;
  while (i < f.size()) {
    if (f[i] != '%') {
      literal += f[i++];
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      literal += '%';
      i += 2;
      continue;
    }
    size_t j = i + 1;
    while (j < f.size() && (std::isupper(static_cast<unsigned char>(f[j])) || std::isdigit(static_cast<unsigned char>(f[j])) || f[j] == '_')) ++j;
    Piece p{false, f.substr(i + 1, j - i - 1), ""};
    bool ok = !p.text.empty();
    bool hasLength = false;
    if (ok && j < f.size() && f[j] == '(') {
      size_t close = f.find(')', j);
      ok = close != std::string::npos;
      if (ok) {
        p.arg = f.substr(j + 1, close - j - 1);
        j = close + 1;
      }
    }
    if (ok && j < f.size() && f[j] == ':') {  // a length: one digit at least, as Envoy's grammar
      size_t k = j + 1;
      while (k < f.size() && std::isdigit(static_cast<unsigned char>(f[k]))) ++k;
      ok = k > j + 1;
      if (ok) {
        size_t n = 0;
        auto [end, ec] = std::from_chars(f.data() + j + 1, f.data() + k, n);
        if (ec != std::errc() || end != f.data() + k) return badRequest("Length must be an integer, given: " + f.substr(j + 1, k - j - 1));
        p.maxLength = n;
        hasLength = true;
      }
      j = k;
    }
    if (!ok || j >= f.size() || f[j] != '%') {
      return badRequest("Incorrect configuration: " + f + ". Couldn't find valid command at position " + std::to_string(i));
    }
    if (std::string e = syntaxError(p.text, p.arg, hasLength); !e.empty()) return badRequest(e);
    flush();
    if (p.text == "ENVIRONMENT") {  // read once, as Envoy does when it builds the formatter
      const char* v = std::getenv(p.arg.c_str());
      std::string value = v ? v : "-";
      if (p.maxLength && value.size() > *p.maxLength) value.resize(*p.maxLength);
      p = Piece{true, std::move(value), ""};
    }
    out.push_back(std::move(p));
    i = j + 1;
  }
  flush();
  return out;
}

std::optional<std::string> AccessLogFormat::value(const Piece& p, const RequestLog& r) {
  std::string v = untruncated(p, r);
  if (v.empty()) return std::nullopt;
  if (p.maxLength && v.size() > *p.maxLength) v.resize(*p.maxLength);  // :0 leaves "", not "-"
  return v;
}

std::string AccessLogFormat::untruncated(const Piece& p, const RequestLog& r) {
  const std::string& c = p.text;
  if (c == "START_TIME") return p.arg.empty() ? startTime(r.start) : startTime(r.start, p.arg);
  if (c == "EMIT_TIME") {
    auto now = std::chrono::system_clock::now();
    return p.arg.empty() ? startTime(now) : startTime(now, p.arg);
  }
  if (c == "PROTOCOL") return r.protocol;
  if (c == "RESPONSE_CODE") return std::to_string(r.responseCode);
  if (c == "RESPONSE_FLAGS") return orDash(r.responseFlags);  // "-" is the value for none
  if (c == "RESPONSE_FLAGS_LONG") return orDash(longFlags(r.responseFlags));
  if (c == "RESPONSE_CODE_DETAILS") {
    if (p.arg == "ALLOW_WHITESPACES") return r.details;
    std::string d = r.details;
    for (char& ch : d) {  // Envoy's StringUtil::replaceAllEmptySpace
      if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') ch = '_';
    }
    return d;
  }
  if (c == "CONNECTION_ID") return std::to_string(r.connectionId);
  if (c == "REQUEST_DURATION") return r.requestDuration ? std::to_string(r.requestDuration->count()) : "";
  if (c == "REQUEST_TX_DURATION") return r.requestTxDuration ? std::to_string(r.requestTxDuration->count()) : "";
  if (c == "UPSTREAM_PROTOCOL") return r.upstreamProtocol;
  if (c == "FILTER_CHAIN_NAME") return r.filterChainName;
  if (c == "LOCAL_REPLY_BODY") return r.localReplyBody;
  if (c == "ACCESS_LOG_TYPE") return r.type;
  if (c == "STREAM_ID") return r.requestId;
  if (c == "GRPC_STATUS" || c == "GRPC_STATUS_NUMBER") {
    if (!r.grpc || !r.grpcStatus) return "";
    return c == "GRPC_STATUS" ? grpcStatusName(*r.grpcStatus, p.arg) : std::to_string(*r.grpcStatus);
  }  // Envoy's stream id is the request id it generated or kept
  if (c == "BYTES_RECEIVED") return std::to_string(r.bytesReceived);
  if (c == "BYTES_SENT") return std::to_string(r.bytesSent);
  if (c == "DURATION") return std::to_string(r.duration.count());
  if (c == "UPSTREAM_HOST" || c == "UPSTREAM_HOST_NAME") return r.upstreamHost;  // a host's name is its address here
  if (c == "UPSTREAM_CLUSTER" || c == "UPSTREAM_CLUSTER_RAW") return r.upstreamCluster;
  if (c == "DOWNSTREAM_REMOTE_ADDRESS" || c == "DOWNSTREAM_DIRECT_REMOTE_ADDRESS") return r.downstreamRemote;
  if (c == "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" || c == "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT") {
    return withoutPort(r.downstreamRemote);
  }
  if (c == "DOWNSTREAM_REMOTE_PORT" || c == "DOWNSTREAM_DIRECT_REMOTE_PORT") return portOf(r.downstreamRemote);
  if (c == "DOWNSTREAM_LOCAL_ADDRESS") return endpointText(r.downstreamLocal);
  if (c == "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT") return r.downstreamLocal.address().to_string();
  if (c == "DOWNSTREAM_LOCAL_PORT") return std::to_string(r.downstreamLocal.port());
  if (c == "UPSTREAM_REMOTE_ADDRESS") return r.upstreamHost;
  if (c == "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT") return withoutPort(r.upstreamHost);
  if (c == "UPSTREAM_REMOTE_PORT") return portOf(r.upstreamHost);
  if (c == "UPSTREAM_LOCAL_ADDRESS") return r.upstreamLocal;
  if (c == "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT") return withoutPort(r.upstreamLocal);
  if (c == "UPSTREAM_LOCAL_PORT") return portOf(r.upstreamLocal);
  if (c == "UPSTREAM_TRANSPORT_FAILURE_REASON") return r.transportFailure;
  if (c == "UPSTREAM_REQUEST_ATTEMPT_COUNT") return std::to_string(r.attempts);
  if (c == "ROUTE_NAME") return r.routeName;
  if (c == "HOSTNAME") return hostName();
  if (c == "RESPONSE_DURATION") return r.responseDuration ? std::to_string(r.responseDuration->count()) : "";
  if (c == "RESPONSE_TX_DURATION") {
    return r.responseDuration ? std::to_string((r.duration - *r.responseDuration).count()) : "";
  }
  if (c == "REQ_WITHOUT_QUERY") {
    std::string v = header(r, p.arg.substr(0, p.arg.find('?')));
    return v.substr(0, v.find('?'));
  }
  if (c == "REQ") {
    size_t q = p.arg.find('?');
    if (q == std::string::npos) return header(r, p.arg);
    std::string v = header(r, p.arg.substr(0, q));
    return v.empty() ? header(r, p.arg.substr(q + 1)) : v;
  }
  if (c == "RESP" || c == "TRAILER") {  // A?B: the first present
    const auto& fields = c == "RESP" ? r.responseFields : r.trailerFields;
    size_t q = p.arg.find('?');
    for (const std::string& name : {lower(p.arg.substr(0, q)), q == std::string::npos ? std::string() : lower(p.arg.substr(q + 1))}) {
      for (const auto& [n, v] : fields) {
        if (!name.empty() && n == name) return v;
      }
    }
  }
  return "";  // none, or an operator meshproxy does not track
}

std::string AccessLogFormat::render(const std::vector<Piece>& pieces, const RequestLog& r) {
  std::string out;
  for (const Piece& p : pieces) out += p.literal ? p.text : value(p, r).value_or("-");
  return out;
}

std::vector<std::string> AccessLogFormat::arguments(const std::string& op) const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (!name.empty() && std::find(out.begin(), out.end(), lower(name)) == out.end()) out.push_back(lower(name));
  };
  auto collect = [&](const std::vector<Piece>& pieces) {
    for (const Piece& p : pieces) {
      if (p.literal || p.text != op) continue;
      size_t q = p.arg.find('?');
      add(p.arg.substr(0, q));
      if (q != std::string::npos) add(p.arg.substr(q + 1));
    }
  };
  collect(text_);
  for (const auto& [key, pieces] : json_) collect(pieces);
  return out;
}

std::vector<std::string> AccessLogFormat::requestFields() const {
  std::vector<std::string> out = arguments("REQ");
  std::erase_if(out, ownField);
  return out;
}

std::vector<std::string> AccessLogFormat::responseFields() const { return arguments("RESP"); }

std::vector<std::string> AccessLogFormat::trailerFields() const { return arguments("TRAILER"); }

StatusOr<AccessLogFormat> AccessLogFormat::text(const std::string& format) {
  auto pieces = parse(format.empty() ? kDefaultAccessLogFormat : format);
  if (!pieces.ok()) return pieces.status();
  AccessLogFormat f;
  f.text_ = std::move(*pieces);
  return f;
}

StatusOr<AccessLogFormat> AccessLogFormat::json(const std::map<std::string, std::string>& fields) {
  AccessLogFormat f;
  f.isJson_ = true;
  for (const auto& [k, v] : fields) {
    auto pieces = parse(v);
    if (!pieces.ok()) return pieces.status();
    f.json_.emplace_back(k, std::move(*pieces));
  }
  return f;
}

bool AccessLogFormat::numeric(const std::string& op) {
  for (const char* n : {"RESPONSE_CODE", "BYTES_RECEIVED", "BYTES_SENT", "DURATION", "RESPONSE_DURATION",
                        "REQUEST_DURATION", "REQUEST_TX_DURATION", "CONNECTION_ID", "GRPC_STATUS_NUMBER",
                        "RESPONSE_TX_DURATION", "UPSTREAM_REQUEST_ATTEMPT_COUNT", "DOWNSTREAM_REMOTE_PORT",
                        "DOWNSTREAM_DIRECT_REMOTE_PORT", "DOWNSTREAM_LOCAL_PORT", "UPSTREAM_REMOTE_PORT",
                        "UPSTREAM_LOCAL_PORT"}) {
    if (op == n) return true;
  }
  return false;
}

std::string AccessLogFormat::format(const RequestLog& r) const {
  if (!isJson_) return render(text_, r);
  // As Envoy's json_format: a value that is one operator alone is typed (a number for the counts
  // and the code, null when there is none); any other is a string.
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, pieces] : json_) {
    if (pieces.size() != 1 || pieces[0].literal) {
      j[k] = render(pieces, r);
      continue;
    }
    const std::string& op = pieces[0].text;
    std::optional<std::string> v = value(pieces[0], r);
    if (!v) {
      j[k] = nullptr;
    } else if (!v->empty() && (numeric(op) || (op == "GRPC_STATUS" && pieces[0].arg == "NUMBER"))) {
      j[k] = std::stoull(*v);
    } else {
      j[k] = *v;
    }
  }
  // Bytes that are not UTF-8 (obs-text in a field) become U+FFFD rather than an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

StatusOr<std::shared_ptr<const AccessLog>> AccessLog::open(const std::string& path, AccessLogFormat format) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return badRequest("cannot open access log " + path + ": " + std::strerror(errno));
  return std::shared_ptr<const AccessLog>(new AccessLog(fd, std::move(format)));
}

AccessLog::~AccessLog() { ::close(fd_); }

void AccessLog::write(const RequestLog& r) const {
  std::string line = format_.format(r);
  (void)!::write(fd_, line.data(), line.size());
}

std::string endpointText(const boost::asio::ip::tcp::endpoint& e) {
  boost::asio::ip::address a = e.address();
  // As Envoy's addresses of a dual-stack socket: an IPv4 peer is IPv4, not ::ffff:a.b.c.d.
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  std::string text = a.to_string();
  return (a.is_v6() ? "[" + text + "]" : text) + ":" + std::to_string(e.port());
}

}  // namespace meshd::proxy
