#include "proxy/response_head.h"

#include <ostream>  // before Beast: its status header needs it whole

#include <boost/beast/http/status.hpp>

#include <array>
#include <charconv>
#include <cstring>

namespace meshd::proxy {

namespace {

inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII, in any case. Inline: most calls end at the sizes.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

constexpr std::array<bool, 256> table(bool (*in)(int)) {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = in(c);
  return t;
}
// RFC 9110 §5.6.2 tchar: what a field name is made of.
constexpr auto kToken = table([](int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
});
// Field values and reason phrases: visible characters, space, tab and obs-text; no other control.
constexpr auto kText = table([](int c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });

bool all(std::string_view s, const std::array<bool, 256>& in) {
  for (char c : s) {
    if (!in[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// No control character but tab (nor DEL) in `s`: eight bytes at a time while none of them is below
// 0x20 or DEL, then byte by byte from the first word that has one (tabs are fine).
bool textOk(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    uint64_t del = x ^ (kOnes * 0x7f);
    if (((x - kOnes * 0x20) & ~x & kHighs) | ((del - kOnes) & ~del & kHighs)) break;
  }
  return all(std::string_view(p, n), kText);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each element of a comma-separated list, trimmed, empty ones skipped.
template <typename F>
void eachToken(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view t = trim(list.substr(0, comma));
    if (!t.empty()) f(t);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// The line starting at `pos` of in[0, limit), without its CRLF; `pos` moves past it. nullopt when
// no line end is in sight yet; `bad` for a bare LF.
std::optional<std::string_view> nextLine(const char* in, size_t limit, size_t& pos, bool& bad) {
  const void* nl = std::memchr(in + pos, '\n', limit - pos);
  if (!nl) return std::nullopt;
  size_t eol = static_cast<const char*>(nl) - in;
  bad = eol == pos || in[eol - 1] != '\r';
  std::string_view line(in + pos, bad ? 0 : eol - 1 - pos);
  pos = eol + 1;
  return line;
}

}  // namespace

std::optional<std::string_view> ResponseHead::find(std::string_view name) const {
  for (const Slot& s : fields_) {
    if (!s.erased && iequals(view(s.name), name)) return view(s.value);
  }
  return std::nullopt;
}

void ResponseHead::erase(std::string_view name) {
  for (Slot& s : fields_) {
    if (!s.erased && iequals(view(s.name), name)) {
      s.erased = true;
      --live_;
    }
  }
}

void ResponseHead::eraseHopByHop() {
  for (Slot& s : fields_) {
    if (s.erased) continue;
    std::string_view n = view(s.name);
    bool hop = false;
    switch (n.size()) {  // by length first: most fields are none of these
      case 2: hop = iequals(n, "te") && !iequals(view(s.value), "trailers"); break;
      case 7: hop = iequals(n, "trailer") || iequals(n, "upgrade"); break;
      case 10: hop = iequals(n, "connection") || iequals(n, "keep-alive"); break;
      case 16: hop = iequals(n, "proxy-connection"); break;
      case 17: hop = iequals(n, "transfer-encoding"); break;
    }
    if (hop) {
      s.erased = true;
      --live_;
    }
  }
}

ResponseHead::Span ResponseHead::append(std::string_view s) {
  Span span{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(s.size())};
  bytes_.insert(bytes_.end(), s.begin(), s.end());
  return span;
}

void ResponseHead::add(std::string_view name, std::string_view value) {
  Span n = append(name);
  fields_.push_back({n, append(value)});
  ++live_;
}

void ResponseHead::clear() {
  bytes_.clear();
  rawSize_ = 0;
  fields_.clear();
  live_ = 0;
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
  size_t n = 13 + reason.size() + 2 + 2;
  forEach([&n](const Field& f) { n += f.name.size() + 2 + f.value.size() + 2; });
  size_t at = out.size();
  out.resize(at + n);
  char* p = out.data() + at;
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  const char line[] = {'H', 'T', 'T', 'P', '/', '1', '.', static_cast<char>('0' + version_ % 10), ' ',
                       static_cast<char>('0' + status_ / 100 % 10), static_cast<char>('0' + status_ / 10 % 10),
                       static_cast<char>('0' + status_ % 10), ' '};
  put(std::string_view(line, sizeof line));
  put(reason);
  put("\r\n");
  forEach([&put](const Field& f) {
    put(f.name);
    put(": ");
    put(f.value);
    put("\r\n");
  });
  put("\r\n");
}

Http1HeadParse Http1HeadParse::run(std::string_view in, ResponseHead& head, bool headRequest, size_t maxBytes,
                                   size_t maxFields) {
  Http1HeadParse r;
  head.clear();
  // One pass over the lines; a head whose end is not within maxBytes is over the limit.
  const char* base = in.data();
  const size_t limit = std::min(in.size(), maxBytes);
  auto incomplete = [&] {
    r.kind = in.size() >= maxBytes ? kInvalid : kNeedMore;
    return r;
  };
  r.kind = kInvalid;  // until the whole head checked out
  size_t pos = 0;
  bool bad = false;

  // The status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
  auto line = nextLine(base, limit, pos, bad);
  if (!line) return incomplete();
  std::string_view l = *line;
  if (bad || l.size() < 12 || !l.starts_with("HTTP/1.") || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return r;
  unsigned status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (l[i] < '0' || l[i] > '9') return r;
    status = status * 10 + static_cast<unsigned>(l[i] - '0');
  }
  if (status < 100 || (l.size() > 12 && l[12] != ' ') || !textOk(l.substr(12))) return r;
  head.version_ = l[7] == '1' ? 11 : 10;
  head.status_ = status;
  if (l.size() > 13) head.reason_ = {13, static_cast<uint32_t>(l.size() - 13)};

  // The fields, up to the empty line.
  bool close = false, keepAliveToken = false, transferEncoding = false, chunked = false;
  std::optional<uint64_t> length;
  auto offset = [base](std::string_view s) { return static_cast<uint32_t>(s.data() - base); };
  for (;;) {
    line = nextLine(base, limit, pos, bad);
    if (!line) return incomplete();
    if (bad) return r;
    if (line->empty()) break;
    l = *line;
    size_t colon = l.find(':');
    if (colon == 0 || colon == std::string_view::npos) return r;  // also obs-fold: a line opening with space
    std::string_view name = l.substr(0, colon);
    std::string_view value = trim(l.substr(colon + 1));
    if (!all(name, kToken) || !textOk(value) || head.fields_.size() == maxFields) return r;
    switch (name.size()) {  // by length first: most fields are none of these
      case 14:
        if (iequals(name, "content-length")) {
          uint64_t n = 0;
          auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
          if (value.empty() || ec != std::errc() || p != value.data() + value.size() || (length && *length != n)) return r;
          length = n;
        }
        break;
      case 17:
        if (iequals(name, "transfer-encoding")) {
          // The last coding decides; chunked anywhere else is malformed (RFC 9112 §6.1).
          transferEncoding = true;
          bool after = false;
          eachToken(value, [&](std::string_view t) {
            after = after || chunked;
            chunked = t.size() == 7 && iequals(t, "chunked");
          });
          if (after) return r;
        }
        break;
      case 10:
        if (iequals(name, "connection")) {
          eachToken(value, [&](std::string_view t) {
            close = close || iequals(t, "close");
            keepAliveToken = keepAliveToken || iequals(t, "keep-alive");
          });
        }
        break;
    }
    head.fields_.push_back({{offset(name), static_cast<uint32_t>(name.size())},
                            {offset(value), static_cast<uint32_t>(value.size())}});
  }
  // Both a length and a coding: the smuggling RFC 9112 §6.3 lets a recipient refuse, as Beast does.
  if (transferEncoding && length) return r;
  head.live_ = head.fields_.size();
  head.bytes_.assign(base, base + pos);  // the spans are offsets: valid in the copy
  head.rawSize_ = pos;

  r.kind = kDone;
  r.used = pos;
  r.keepAlive = !close && (head.version_ == 11 || keepAliveToken);
  r.framing = BodyFraming::kClose;
  if (headRequest || status < 200 || status == 204 || status == 304) {
    r.framing = BodyFraming::kNone;
  } else if (transferEncoding) {
    r.framing = chunked ? BodyFraming::kChunked : BodyFraming::kClose;
  } else if (length) {
    r.framing = BodyFraming::kLength;
    r.length = *length;
  }
  if (r.framing == BodyFraming::kClose) r.keepAlive = false;
  return r;
}

}  // namespace meshd::proxy
