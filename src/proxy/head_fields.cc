#include "proxy/head_fields.h"

#include <array>
#include <charconv>
#include <cstring>

namespace meshd::proxy {

namespace {

using head_parse::iequals;

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

inline bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
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

}  // namespace

namespace head_parse {

std::optional<std::string_view> nextLine(const char* in, size_t limit, size_t& pos, bool& bad) {
  const void* nl = std::memchr(in + pos, '\n', limit - pos);
  if (!nl) return std::nullopt;
  size_t eol = static_cast<const char*>(nl) - in;
  bad = eol == pos || in[eol - 1] != '\r';
  std::string_view line(in + pos, bad ? 0 : eol - 1 - pos);
  pos = eol + 1;
  return line;
}

// Eight bytes at a time while none of them is below 0x20 or DEL, then byte by byte from the first
// word that has one (tabs are fine).
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
  for (; n > 0; ++p, --n) {
    if (!kText[static_cast<unsigned char>(*p)]) return false;
  }
  return true;
}

bool isToken(std::string_view s) {
  for (char c : s) {
    if (!kToken[static_cast<unsigned char>(c)]) return false;
  }
  return !s.empty();
}

}  // namespace head_parse

std::optional<std::string_view> HeadFields::find(std::string_view name) const {
  for (const Slot& s : fields_) {
    if (!s.erased && iequals(view(s.name), name)) return view(s.value);
  }
  return std::nullopt;
}

void HeadFields::erase(std::string_view name) {
  for (Slot& s : fields_) {
    if (!s.erased && iequals(view(s.name), name)) {
      s.erased = true;
      --live_;
    }
  }
}

uint32_t HeadFields::sweep(const FieldNames& set, uint32_t eraseMask, uint32_t replaceMask,
                           std::span<const std::string_view> values) {
  uint32_t present = 0;
  std::span<const std::string_view> names = set.names;
  for (Slot& s : fields_) {
    if (s.erased || s.name.size >= 64 || !(set.lengths >> s.name.size & 1)) continue;
    std::string_view n = view(s.name);
    if (n.empty() || !(set.firsts & FieldNames::letterBit(n[0]))) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      if (!iequals(n, names[i])) continue;
      bool first = !(present >> i & 1);
      present |= 1u << i;
      if (replaceMask >> i & 1 && first) {
        s.value = append(values[i]);
      } else if ((eraseMask | replaceMask) >> i & 1) {
        s.erased = true;
        --live_;
      }
      break;
    }
  }
  return present;
}

void HeadFields::eraseHopByHop() {
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

HeadFields::Span HeadFields::append(std::string_view s) {
  Span span{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(s.size())};
  if (!s.empty() && s.data() >= bytes_.data() && s.data() < bytes_.data() + bytes_.size()) {
    // A view into this head (a field's value set again): the insert may move what it reads.
    std::string copy(s);
    bytes_.insert(bytes_.end(), copy.begin(), copy.end());
  } else {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  return span;
}

void HeadFields::add(std::string_view name, std::string_view value) {
  Span n = append(name);
  fields_.push_back({n, append(value)});
  ++live_;
}

void HeadFields::set(std::string_view name, std::string_view value) {
  erase(name);
  add(name, value);
}

void HeadFields::clearFields() {
  bytes_.clear();
  rawSize_ = 0;
  fields_.clear();
  live_ = 0;
}

size_t HeadFields::fieldsSize() const {
  size_t n = 2;
  forEach([&n](const Field& f) { n += f.name.size() + 2 + f.value.size() + 2; });
  return n;
}

namespace {

// `x` with its ASCII capitals in lowercase, eight bytes at once: a byte's high bit says whether it
// is at least 'A' (+0x3f carries into it), above 'Z' (+0x25) and ASCII at all.
inline uint64_t lowerWord(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHighs = kOnes * 0x80;
  uint64_t low7 = x & ~kHighs;
  uint64_t upper = (low7 + kOnes * 0x3f) & ~(low7 + kOnes * 0x25) & ~x & kHighs;
  return x | upper >> 2;  // 0x80 >> 2 is the case bit
}

// Writes `name` lowercased at `out`; returns its end. Whole words, the last one overlapping the
// one before (a name of 8 bytes or more); byte by byte only for shorter names.
inline char* putLower(char* out, std::string_view name) {
  size_t n = name.size();
  if (n < 8) {
    for (char c : name) *out++ = (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
    return out;
  }
  uint64_t x;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    std::memcpy(&x, name.data() + i, 8);
    x = lowerWord(x);
    std::memcpy(out + i, &x, 8);
  }
  std::memcpy(&x, name.data() + n - 8, 8);
  x = lowerWord(x);
  std::memcpy(out + n - 8, &x, 8);
  return out + n;
}

}  // namespace

char* HeadFields::putFields(char* p) const {
  forEach([&p](const Field& f) {
    // Lowercase, as Envoy's HTTP/1 codec writes every name (header_key_format unset).
    p = putLower(p, f.name);
    std::memcpy(p, ": ", 2);
    std::memcpy(p + 2, f.value.data(), f.value.size());
    p += 2 + f.value.size();
    std::memcpy(p, "\r\n", 2);
    p += 2;
  });
  std::memcpy(p, "\r\n", 2);
  return p + 2;
}

HeadFields::Parsed HeadFields::parseFields(const char* base, size_t limit, bool capped, size_t& pos,
                                           size_t maxFields, Facts& facts) {
  for (;;) {
    const void* nl = std::memchr(base + pos, '\n', limit - pos);
    if (!nl) return capped ? Parsed::kTooLarge : Parsed::kNeedMore;
    size_t eol = static_cast<const char*>(nl) - base;
    if (eol == pos || base[eol - 1] != '\r') return Parsed::kInvalid;  // a bare LF
    const char* p = base + pos;
    const char* end = base + eol - 1;
    pos = eol + 1;
    if (p == end) return Parsed::kDone;
    // The name is a token up to the colon: one scan finds both (a line that opens with a space,
    // obs-fold, has no name).
    const char* colon = p;
    while (colon < end && kToken[static_cast<unsigned char>(*colon)]) ++colon;
    if (colon == p || colon == end || *colon != ':') return Parsed::kInvalid;
    std::string_view name(p, colon - p);
    std::string_view value = trim(std::string_view(colon + 1, end - colon - 1));
    if (!head_parse::textOk(value)) return Parsed::kInvalid;
    if (fields_.size() == maxFields) return Parsed::kTooLarge;
    switch (name.size()) {  // by length first: most fields are none of these
      case 14:
        if (iequals(name, "content-length")) {
          uint64_t n = 0;
          auto [q, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
          if (value.empty() || ec != std::errc() || q != value.data() + value.size() ||
              (facts.length && *facts.length != n)) {
            return Parsed::kInvalid;
          }
          facts.length = n;
        }
        break;
      case 17:
        if (iequals(name, "transfer-encoding")) {
          // The last coding decides; chunked anywhere else is malformed (RFC 9112 §6.1).
          facts.transferEncoding = true;
          bool after = false;
          eachToken(value, [&](std::string_view t) {
            after = after || facts.chunked;
            facts.chunked = t.size() == 7 && iequals(t, "chunked");
          });
          if (after) return Parsed::kInvalid;
        }
        break;
      case 10:
        if (iequals(name, "connection")) {
          eachToken(value, [&](std::string_view t) {
            facts.close = facts.close || iequals(t, "close");
            facts.keepAliveToken = facts.keepAliveToken || iequals(t, "keep-alive");
            facts.upgradeToken = facts.upgradeToken || iequals(t, "upgrade");
          });
        }
        break;
    }
    auto offset = [base](std::string_view s) { return static_cast<uint32_t>(s.data() - base); };
    fields_.push_back({{offset(name), static_cast<uint32_t>(name.size())},
                       {offset(value), static_cast<uint32_t>(value.size())}});
  }
}

void HeadFields::keep(const char* base, size_t used) {
  live_ = fields_.size();
  bytes_.assign(base, base + used);  // the spans are offsets: valid in the copy
  rawSize_ = used;
}

}  // namespace meshd::proxy
