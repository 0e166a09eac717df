#include "proxy/request_head.h"

#include <cstring>

namespace meshd::proxy {

namespace {

// A request target: no space, no control character, no DEL (what Beast's parser takes).
bool targetOk(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return !s.empty();
}

}  // namespace

void RequestHead::clear() {
  clearFields();
  method_ = {};
  target_ = {};
  version_ = 11;
  upgrade_ = false;
}

void RequestHead::serialize(std::string& out) const {
  std::string_view m = method(), t = target();
  size_t at = out.size();
  out.resize(at + m.size() + 1 + t.size() + 11 + fieldsSize());
  char* p = out.data() + at;
  std::memcpy(p, m.data(), m.size());
  p += m.size();
  *p++ = ' ';
  std::memcpy(p, t.data(), t.size());
  p += t.size();
  std::memcpy(p, version_ == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", 11);
  putFields(p + 11);
}

Http1HeadParse Http1HeadParse::run(std::string_view in, RequestHead& head, size_t maxBytes, size_t maxFields) {
  Http1HeadParse r;
  head.clear();
  HeadFields::Facts facts;
  // The request line: method SP target SP HTTP/1.x (Envoy's codec takes no other version).
  r.kind = head.parseHead(in, maxBytes, maxFields, facts, r.used, [&head, &in](std::string_view l) {
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos || l.size() < sp + 1 + 9) return false;
    std::string_view method = l.substr(0, sp);
    std::string_view target = l.substr(sp + 1, l.size() - 9 - sp - 1);
    std::string_view version = l.substr(l.size() - 9);
    if (!head_parse::isToken(method) || !targetOk(target) || !version.starts_with(" HTTP/1.") ||
        (version[8] != '0' && version[8] != '1')) {
      return false;
    }
    auto span = [&in](std::string_view s) {
      return HeadFields::Span{static_cast<uint32_t>(s.data() - in.data()), static_cast<uint32_t>(s.size())};
    };
    head.method_ = span(method);
    head.target_ = span(target);
    head.version_ = version[8] == '1' ? 11 : 10;
    return true;
  });
  if (r.kind != kDone) return r;
  // Any coding but chunked last leaves the body's end unknown (RFC 9112 §6.3): 400.
  if (facts.transferEncoding && !facts.chunked) {
    r.kind = kInvalid;
    return r;
  }
  r.keepAlive = !facts.close && (head.version_ == 11 || facts.keepAliveToken);
  head.upgrade_ = facts.upgradeToken;
  r.framing = BodyFraming::kNone;
  if (facts.chunked) {
    r.framing = BodyFraming::kChunked;
  } else if (facts.length && *facts.length > 0) {
    r.framing = BodyFraming::kLength;
    r.length = *facts.length;
  }
  return r;
}

}  // namespace meshd::proxy
