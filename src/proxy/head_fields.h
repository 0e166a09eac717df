#pragma once
// The fields of an HTTP message head, flat: in arrival order, their bytes in one buffer (the head as it
// arrived, then what was added since) and the fields as offsets into it. A request head
// (request_head.h) and a response head (response_head.h) add their start lines to it; both protocols
// fill them, so the router and both codecs read and edit one kind of thing.
//
// Why not Beast's fields: each field there costs an allocation, a tree insert and a check per
// character. The 8 fields of a typical response were a quarter of a proxied request's user-space
// instructions (bench/proxy instructions). Here a head is one pass over its lines and one copy, into
// buffers held in place for a typical head (no allocation).

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <string_view>

namespace meshd::proxy {

class RequestHead;
class ResponseHead;

// How an HTTP/1.x message's body is delimited (RFC 9112 §6.3).
enum class BodyFraming { kNone, kLength, kChunked, kClose };

// Parses an HTTP/1.x head at the start of `in`, within Envoy's limits on a head (`maxBytes`,
// `maxFields`). A response head (response_head.cc) as Beast's response parser would accept it; a
// request head (request_head.cc) as Beast's request parser would.
struct Http1HeadParse {
  enum Kind { kNeedMore, kDone, kInvalid, kTooLarge };
  Kind kind = kNeedMore;
  size_t used = 0;  // kDone: the head's bytes, its empty line included
  BodyFraming framing = BodyFraming::kClose;
  uint64_t length = 0;     // kLength
  bool keepAlive = false;  // the connection may carry another message after this one

  bool failed() const { return kind == kInvalid || kind == kTooLarge; }

  // `headRequest`: the response to a HEAD has no body, whatever its fields say.
  static Http1HeadParse run(std::string_view in, ResponseHead& head, bool headRequest, size_t maxBytes,
                            size_t maxFields);
  // A request's body has a length, is chunked or is not there (a request never ends with the
  // connection); any other transfer coding is invalid (RFC 9112 §6.3).
  static Http1HeadParse run(std::string_view in, RequestHead& head, size_t maxBytes, size_t maxFields);
};

// Names for HeadFields::sweep(), with their lengths and first letters as bits (most fields have
// none of them, and are passed over on those alone).
struct FieldNames {
  template <size_t N>
  constexpr FieldNames(const std::string_view (&n)[N]) : names(n) {  // NOLINT: implicit, as an array is used
    for (std::string_view name : n) {
      if (name.size() < 64) lengths |= uint64_t{1} << name.size();
      if (!name.empty()) firsts |= letterBit(name[0]);
    }
  }
  // A letter's bit, either case (other characters share bits: a filter, not a test).
  static constexpr uint32_t letterBit(char c) { return uint32_t{1} << ((static_cast<unsigned char>(c) | 0x20) & 31); }

  std::span<const std::string_view> names;
  uint64_t lengths = 0;
  uint32_t firsts = 0;
};

class HeadFields {
 public:
  struct Field {
    std::string_view name, value;
  };

  // Fields not erased.
  size_t size() const { return live_; }
  // The first field named `name` (in any case).
  std::optional<std::string_view> find(std::string_view name) const;
  // Removes every field named `name` (in any case).
  void erase(std::string_view name);
  // Appends a field. Invalidates views into this head's bytes (find()'s results).
  void add(std::string_view name, std::string_view value);
  // erase(name), then add(name, value): the field moves to the end.
  void set(std::string_view name, std::string_view value);
  // One pass for several names (lowercase, at most 32), where one find() or erase() each would
  // take a pass apiece: returns which are present (bit i for names[i]), erases those whose bit
  // `eraseMask` sets, and gives those whose bit `replaceMask` sets the value values[i] in place (the
  // first field of that name; later ones are erased), as Envoy overwrites a header it knows.
  // Declare the names `static constexpr FieldNames`: their masks are then worked out once.
  uint32_t sweep(const FieldNames& names, uint32_t eraseMask, uint32_t replaceMask = 0,
                 std::span<const std::string_view> values = {});
  // Removes the hop-by-hop fields (connection, keep-alive, proxy-connection, te but `te: trailers`,
  // trailer, transfer-encoding, upgrade) in one pass. As Envoy, `te: trailers` stays: gRPC servers
  // require it.
  void eraseHopByHop();
  // Calls f(Field) for each field, in order.
  template <typename F>
  void forEach(F f) const {
    for (const Slot& s : fields_) {
      if (!s.erased) f(Field{view(s.name), view(s.value)});
    }
  }
  // The bytes an HTTP/1.x parse took this head from: Beast parses them again when the body needs
  // its chunk decoding or ends with the connection.
  std::string_view raw() const { return std::string_view(bytes_.data(), rawSize_); }

 protected:
  friend struct Http1HeadParse;
  struct Span {
    uint32_t offset = 0, size = 0;
  };
  struct Slot {
    Span name, value;
    bool erased = false;
  };
  // What an HTTP/1.x head's fields say about its body and its connection.
  struct Facts {
    std::optional<uint64_t> length;
    bool transferEncoding = false;
    bool chunked = false;  // chunked is the last transfer coding
    bool close = false;
    bool keepAliveToken = false;
    bool upgradeToken = false;
  };
  enum class Parsed { kNeedMore, kDone, kInvalid, kTooLarge };

  std::string_view view(Span s) const { return std::string_view(bytes_.data() + s.offset, s.size); }
  Span append(std::string_view s);
  void clearFields();
  // The field lines (names in lowercase) and the empty line as HTTP/1.x writes them: their size, and writing them at `p`
  // (which returns the end).
  size_t fieldsSize() const;
  char* putFields(char* p) const;

  // Parses the field lines of base[0, limit) from `pos` through the empty line, as Beast's parser
  // would accept them (CRLF line ends, token names, no obs-fold, no control characters in values),
  // with Envoy's limits: over `maxFields`, or no end in sight while `capped` (the input reached the
  // byte limit), is kTooLarge. Fields are recorded as offsets into `base`: keep() copies the bytes.
  Parsed parseFields(const char* base, size_t limit, bool capped, size_t& pos, size_t maxFields, Facts& facts);
  // Takes base[0, used) as this head's bytes, which the offsets recorded so far point into.
  void keep(const char* base, size_t used);
  // The head at the start of `in` (see Http1HeadParse::run): its start line by `startLine(line)`
  // (false: malformed; spans it records are offsets from in.data()), then its fields. kDone with
  // `used` set once the head checked out whole, its bytes kept.
  template <typename StartLine>
  Http1HeadParse::Kind parseHead(std::string_view in, size_t maxBytes, size_t maxFields, Facts& facts, size_t& used,
                                 StartLine startLine);

  boost::container::small_vector<char, 640> bytes_;
  size_t rawSize_ = 0;
  boost::container::small_vector<Slot, 16> fields_;
  size_t live_ = 0;
};

namespace head_parse {  // for the start lines, shared by the two parsers, and for field names

inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
// ASCII, in any case. Inline: most calls end at the sizes.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The line starting at `pos` of in[0, limit), without its CRLF; `pos` moves past it. nullopt when
// no line end is in sight yet; `bad` for a bare LF.
std::optional<std::string_view> nextLine(const char* in, size_t limit, size_t& pos, bool& bad);
// No control character but tab (nor DEL) in `s`.
bool textOk(std::string_view s);
// RFC 9110 §5.6.2: a token (a field name, a method).
bool isToken(std::string_view s);

}  // namespace head_parse

template <typename StartLine>
Http1HeadParse::Kind HeadFields::parseHead(std::string_view in, size_t maxBytes, size_t maxFields, Facts& facts,
                                           size_t& used, StartLine startLine) {
  // One pass over the lines; a head whose end is not within maxBytes is over the limit.
  const char* base = in.data();
  const size_t limit = std::min(in.size(), maxBytes);
  const bool capped = in.size() >= maxBytes;
  size_t pos = 0;
  bool bad = false;
  auto line = head_parse::nextLine(base, limit, pos, bad);
  if (!line) return capped ? Http1HeadParse::kTooLarge : Http1HeadParse::kNeedMore;
  if (bad || !startLine(*line)) return Http1HeadParse::kInvalid;
  switch (parseFields(base, limit, capped, pos, maxFields, facts)) {
    case Parsed::kNeedMore: return Http1HeadParse::kNeedMore;
    case Parsed::kInvalid: return Http1HeadParse::kInvalid;
    case Parsed::kTooLarge: return Http1HeadParse::kTooLarge;
    case Parsed::kDone: break;
  }
  // Both a length and a coding: the smuggling RFC 9112 §6.3 lets a recipient refuse, as Beast does.
  if (facts.transferEncoding && facts.length) return Http1HeadParse::kInvalid;
  keep(base, pos);
  used = pos;
  return Http1HeadParse::kDone;
}

}  // namespace meshd::proxy
