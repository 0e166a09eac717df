#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
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

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

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
  std::vector<Piece> out;
  size_t i = 0;
  while (i < f.size()) {
    size_t pct = f.find('%', i);
    size_t close = pct == std::string::npos ? std::string::npos : f.find('%', pct + 1);
    if (close == std::string::npos) {
      out.push_back({true, f.substr(i), ""});
      break;
    }
    if (pct > i) out.push_back({true, f.substr(i, pct - i), ""});
    std::string cmd = f.substr(pct + 1, close - pct - 1);
    if (cmd.empty()) {
      out.push_back({true, "%", ""});  // "%%"
    } else {
      Piece p{false, cmd, ""};
      size_t open = cmd.find('(');
      if (open != std::string::npos && cmd.back() == ')') {
        p.text = cmd.substr(0, open);
        p.arg = cmd.substr(open + 1, cmd.size() - open - 2);
      } else if (open != std::string::npos) {  // REQ(X):N — drop the length limit
        size_t end = cmd.find(')', open);
        p.text = cmd.substr(0, open);
        p.arg = cmd.substr(open + 1, end - open - 1);
      }
      out.push_back(p);
    }
    i = close + 1;
  }
  return out;
}

std::string AccessLogFormat::value(const Piece& p, const RequestLog& r) {
  const std::string& c = p.text;
  if (c == "START_TIME") return startTime(r.start);
  if (c == "PROTOCOL") return r.protocol;
  if (c == "RESPONSE_CODE") return std::to_string(r.responseCode);
  if (c == "RESPONSE_FLAGS") return orDash(r.responseFlags);  // "-" is the value for none
  if (c == "BYTES_RECEIVED") return std::to_string(r.bytesReceived);
  if (c == "BYTES_SENT") return std::to_string(r.bytesSent);
  if (c == "DURATION") return std::to_string(r.duration.count());
  if (c == "UPSTREAM_HOST") return r.upstreamHost;
  if (c == "UPSTREAM_CLUSTER") return r.upstreamCluster;
  if (c == "DOWNSTREAM_REMOTE_ADDRESS") return r.downstreamRemote;
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
    if (op == "RESPONSE_CODE" || op == "BYTES_RECEIVED" || op == "BYTES_SENT" || op == "DURATION") {
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
