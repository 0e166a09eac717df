#pragma once
// Recognising a TLS ClientHello in the first bytes of a connection and reading its server name
// (SNI), for the TLS inspector listener filter. Only the first TLS record is read: a ClientHello
// fits in one in practice, and the listener must decide before the app sends more. Pure.

#include <cstddef>
#include <string>
#include <string_view>

namespace meshd::proxy {

struct ClientHello {
  enum Kind { kNeedMore, kNotTls, kTls };
  Kind kind = kNeedMore;
  std::string serverName;  // kTls: the SNI host_name, lowercase; "" when the hello has none
};

// The most the inspector looks at: one TLS record's header and its largest payload.
inline constexpr size_t kMaxClientHelloBytes = 5 + (16 << 10);

// What `peeked`, the connection's first bytes, are. kNeedMore until the first record is complete;
// bytes that cannot begin a ClientHello are kNotTls, as is a malformed one.
ClientHello parseClientHello(std::string_view peeked);

}  // namespace meshd::proxy
