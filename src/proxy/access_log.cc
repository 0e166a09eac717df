#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
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

std::string endpointText(const boost::asio::ip::tcp::endpoint& e) {
  std::string a = e.address().to_string();
  return (e.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(e.port());
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

}  // namespace

std::vector<AccessLogFormat::Piece> AccessLogFormat::parse(const std::string& f) {
  // Envoy's command syntax: %NAME%, %NAME(ARG)% or %NAME(ARG):N%, where ARG has no ')' but may
  // have '%' (START_TIME's format); "%%" is a '%'. Anything else is literal.
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
    if (ok && j < f.size() && f[j] == '(') {
      size_t close = f.find(')', j);
      ok = close != std::string::npos;
      if (ok) {
        p.arg = f.substr(j + 1, close - j - 1);
        j = close + 1;
      }
      if (ok && j < f.size() && f[j] == ':') {
        size_t k = j + 1;
        while (k < f.size() && std::isdigit(static_cast<unsigned char>(f[k]))) ++k;
        p.maxLength = std::strtoul(f.c_str() + j + 1, nullptr, 10);
        j = k;
      }
    }
    if (!ok || j >= f.size() || f[j] != '%') {  // not a command: the '%' is literal
      literal += f[i++];
      continue;
    }
    flush();
    out.push_back(std::move(p));
    i = j + 1;
  }
  flush();
  return out;
}

std::string AccessLogFormat::value(const Piece& p, const RequestLog& r) {
  std::string v = untruncated(p, r);
  if (p.maxLength && v.size() > p.maxLength) v.resize(p.maxLength);
  return v;
}

std::string AccessLogFormat::untruncated(const Piece& p, const RequestLog& r) {
  const std::string& c = p.text;
  if (c == "START_TIME") return p.arg.empty() ? startTime(r.start) : startTime(r.start, p.arg);
  if (c == "PROTOCOL") return r.protocol;
  if (c == "RESPONSE_CODE") return std::to_string(r.responseCode);
  if (c == "RESPONSE_FLAGS") return orDash(r.responseFlags);  // "-" is the value for none
  if (c == "BYTES_RECEIVED") return std::to_string(r.bytesReceived);
  if (c == "BYTES_SENT") return std::to_string(r.bytesSent);
  if (c == "DURATION") return std::to_string(r.duration.count());
  if (c == "UPSTREAM_HOST") return r.upstreamHost;
  if (c == "UPSTREAM_CLUSTER") return r.upstreamCluster;
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
  if (c == "RESP") {
    std::string name = lower(p.arg);
    for (const auto& [n, v] : r.responseFields) {
      if (n == name) return v;
    }
  }
  return "";  // none, or an operator meshproxy does not track
}

std::string AccessLogFormat::render(const std::vector<Piece>& pieces, const RequestLog& r) {
  std::string out;
  for (const Piece& p : pieces) out += p.literal ? p.text : orDash(value(p, r));
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

AccessLogFormat AccessLogFormat::text(const std::string& format) {
  AccessLogFormat f;
  f.text_ = parse(format.empty() ? kDefaultAccessLogFormat : format);
  return f;
}

AccessLogFormat AccessLogFormat::json(const std::map<std::string, std::string>& fields) {
  AccessLogFormat f;
  f.isJson_ = true;
  for (const auto& [k, v] : fields) f.json_.emplace_back(k, parse(v));
  return f;
}

bool AccessLogFormat::numeric(const std::string& op) {
  for (const char* n : {"RESPONSE_CODE", "BYTES_RECEIVED", "BYTES_SENT", "DURATION", "RESPONSE_DURATION",
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
    std::string v = value(pieces[0], r);
    if (!v.empty() && numeric(op)) {
      j[k] = std::stoull(v);
    } else if (v.empty()) {
      j[k] = nullptr;
    } else {
      j[k] = v;
    }
  }
  return j.dump() + "\n";
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

}  // namespace meshd::proxy
