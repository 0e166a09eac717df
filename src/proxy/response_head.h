#pragma once
// An upstream's response head: the status line and the fields (head_fields.h). HTTP/1.1 and HTTP/2
// responses both end up in one, which the router reads and the downstream session edits and writes.

#include "proxy/head_fields.h"

namespace meshd::proxy {

class ResponseHead : public HeadFields {
 public:
  unsigned status() const { return status_; }
  void status(unsigned s) { status_ = s; }
  unsigned version() const { return version_; }  // 10 or 11
  void version(unsigned v) { version_ = v; }
  // The reason phrase as received (empty from HTTP/2: serialize() then writes the standard one).
  std::string_view reason() const { return view(reason_); }

  // Empty, status 0, HTTP/1.1; keeps its memory for the next head.
  void clear();
  // The status line, the fields and the empty line, as HTTP/1.x writes them, appended to `out`.
  void serialize(std::string& out) const;

 private:
  friend struct Http1HeadParse;
  unsigned status_ = 0;
  unsigned version_ = 11;
  Span reason_;
};

}  // namespace meshd::proxy
