#pragma once
// A client's request head: the request line and the fields (head_fields.h). An HTTP/1.1 request is
// parsed into one; an HTTP/2 request's pseudo-headers fill the request line and its :authority the
// Host field, so the router sees one kind of request whatever the protocol.

#include "proxy/head_fields.h"

namespace meshd::proxy {

class RequestHead : public HeadFields {
 public:
  std::string_view method() const { return view(method_); }
  void method(std::string_view m) { method_ = append(m); }
  // The request target as sent (origin form, or absolute form to a proxy).
  std::string_view target() const { return view(target_); }
  void target(std::string_view t) { target_ = append(t); }
  unsigned version() const { return version_; }  // 10 or 11
  void version(unsigned v) { version_ = v; }
  // The Host field ("" without one).
  std::string_view host() const { return find("host").value_or(std::string_view()); }
  // What an HTTP/1.1 client asks to upgrade the connection to (its Connection field names upgrade
  // and its Upgrade field says to what); empty when it asks nothing.
  std::string_view upgrade() const { return upgrade_ ? find("upgrade").value_or(std::string_view()) : std::string_view(); }

  // Empty, HTTP/1.1; keeps its memory for the next head.
  void clear();
  // The request line, the fields and the empty line, as HTTP/1.x writes them, appended to `out`.
  void serialize(std::string& out) const;

 private:
  friend struct Http1HeadParse;
  Span method_, target_;
  unsigned version_ = 11;
  bool upgrade_ = false;
};

// Whether a request with `method` has no body by its definition (GET, HEAD, DELETE, TRACE, CONNECT:
// Envoy's HeaderUtility::requestShouldHaveNoBody).
inline bool requestShouldHaveNoBody(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "DELETE" || method == "TRACE" || method == "CONNECT";
}

}  // namespace meshd::proxy
