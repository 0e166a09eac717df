#pragma once
// An upstream's response head, flat: the status line and the fields in arrival order, their bytes in
// one string (the head as it arrived, then what was added since). HTTP/1.1 and HTTP/2 responses both
// end up in one, which the router reads and the downstream session edits and writes out.
//
// Why not Beast's fields: each field there costs an allocation, a tree insert and a check per
// character, and the 8 fields of a typical response were a quarter of a proxied request's user-space
// instructions (bench/proxy instructions). Here a head is one pass over its lines and one copy, into
// buffers held in place for a typical head (no allocation).

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meshd::proxy {

class ResponseHead {
 public:
  struct Field {
    std::string_view name, value;
  };

  unsigned status() const { return status_; }
  void status(unsigned s) { status_ = s; }
  unsigned version() const { return version_; }  // 10 or 11
  void version(unsigned v) { version_ = v; }
  // The reason phrase as received (empty from HTTP/2: serialize() then writes the standard one).
  std::string_view reason() const { return view(reason_); }

  // Fields not erased.
  size_t size() const { return live_; }
  // The first field named `name` (in any case).
  std::optional<std::string_view> find(std::string_view name) const;
  // Removes every field named `name` (in any case).
  void erase(std::string_view name);
  void add(std::string_view name, std::string_view value);
  // Removes the hop-by-hop fields (connection, keep-alive, proxy-connection, te but `te: trailers`,
  // trailer, transfer-encoding, upgrade) in one pass, as stripHopByHop() does for Beast's.
  void eraseHopByHop();
  // Calls f(Field) for each field, in order.
  template <typename F>
  void forEach(F f) const {
    for (const Slot& s : fields_) {
      if (!s.erased) f(Field{view(s.name), view(s.value)});
    }
  }

  // Empty, status 0, HTTP/1.1; keeps its memory for the next head.
  void clear();
  // The status line, the fields and the empty line, as HTTP/1.x writes them, appended to `out`.
  void serialize(std::string& out) const;
  // The bytes parseHttp1() took this head from (HTTP/1.1 only): Beast parses them again when the body
  // needs its chunk decoding or ends with the connection.
  std::string_view raw() const { return std::string_view(bytes_.data(), rawSize_); }

 private:
  friend struct Http1HeadParse;
  struct Span {
    uint32_t offset = 0, size = 0;
  };
  struct Slot {
    Span name, value;
    bool erased = false;
  };
  std::string_view view(Span s) const { return std::string_view(bytes_.data() + s.offset, s.size); }
  Span append(std::string_view s);

  boost::container::small_vector<char, 640> bytes_;
  size_t rawSize_ = 0;
  boost::container::small_vector<Slot, 16> fields_;
  size_t live_ = 0;
  unsigned status_ = 0;
  unsigned version_ = 11;
  Span reason_;
};

// How an HTTP/1.x response's body is delimited (RFC 9112 §6.3).
enum class BodyFraming { kNone, kLength, kChunked, kClose };

// Parses an HTTP/1.x response head at the start of `in` into `head`, as Beast's parser would accept
// it (CRLF line ends, token field names, no obs-fold, no control characters in values), within
// Envoy's limits on a response head (`maxBytes`, `maxFields`).
struct Http1HeadParse {
  enum Kind { kNeedMore, kDone, kInvalid };
  Kind kind = kNeedMore;
  size_t used = 0;  // kDone: the head's bytes, its empty line included
  BodyFraming framing = BodyFraming::kClose;
  uint64_t length = 0;     // kLength
  bool keepAlive = false;  // the connection may carry another request after this response

  // `headRequest`: the response to a HEAD has no body, whatever its fields say.
  static Http1HeadParse run(std::string_view in, ResponseHead& head, bool headRequest, size_t maxBytes,
                            size_t maxFields);
};

}  // namespace meshd::proxy
