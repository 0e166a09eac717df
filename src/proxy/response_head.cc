#include "proxy/response_head.h"

#include <ostream>  // before Beast: its status header needs it whole

#include <boost/beast/http/status.hpp>

#include <cstring>

namespace meshd::proxy {

void ResponseHead::clear() {
  clearFields();
  status_ = 0;
  version_ = 11;
  reason_ = {};
}

void ResponseHead::serialize(std::string& out) const {
  std::string_view reason = this->reason();
  if (reason.empty()) {
    auto r = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status_));
    reason = std::string_view(r.data(), r.size());
  }
  // One resize and copies: appending piece by piece checked the capacity each time.
  size_t at = out.size();
  out.resize(at + 13 + reason.size() + 2 + fieldsSize());
  char* p = out.data() + at;
  const char line[] = {'H', 'T', 'T', 'P', '/', '1', '.', static_cast<char>('0' + version_ % 10), ' ',
                       static_cast<char>('0' + status_ / 100 % 10), static_cast<char>('0' + status_ / 10 % 10),
                       static_cast<char>('0' + status_ % 10), ' '};
  std::memcpy(p, line, sizeof line);
  p += sizeof line;
  std::memcpy(p, reason.data(), reason.size());
  p += reason.size();
  std::memcpy(p, "\r\n", 2);
  putFields(p + 2);
}

Http1HeadParse Http1HeadParse::run(std::string_view in, ResponseHead& head, bool headRequest, size_t maxBytes,
                                   size_t maxFields) {
  Http1HeadParse r;
  head.clear();
  HeadFields::Facts facts;
  // The status line: HTTP/1.x SP 3DIGIT [SP reason].
  r.kind = head.parseHead(in, maxBytes, maxFields, facts, r.used, [&head, &in](std::string_view l) {
    if (l.size() < 12 || !l.starts_with("HTTP/1.") || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return false;
    unsigned status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (l[i] < '0' || l[i] > '9') return false;
      status = status * 10 + static_cast<unsigned>(l[i] - '0');
    }
    if (status < 100 || (l.size() > 12 && l[12] != ' ') || !head_parse::textOk(l.substr(12))) return false;
    head.version_ = l[7] == '1' ? 11 : 10;
    head.status_ = status;
    if (l.size() > 13) head.reason_ = {static_cast<uint32_t>(l.data() + 13 - in.data()), static_cast<uint32_t>(l.size() - 13)};
    return true;
  });
  if (r.kind != kDone) return r;
  r.keepAlive = !facts.close && (head.version_ == 11 || facts.keepAliveToken);
  unsigned status = head.status_;
  if (headRequest || status < 200 || status == 204 || status == 304) {
    r.framing = BodyFraming::kNone;
  } else if (facts.transferEncoding) {
    r.framing = facts.chunked ? BodyFraming::kChunked : BodyFraming::kClose;
  } else if (facts.length) {
    r.framing = BodyFraming::kLength;
    r.length = *facts.length;
  }
  if (r.framing == BodyFraming::kClose) r.keepAlive = false;
  return r;
}

}  // namespace meshd::proxy
