#pragma once
// A hand-built TLS 1.3 ClientHello, for tests of the TLS inspector and SNI routing. Test code only.

#include <cstdint>
#include <string>

namespace meshd::proxy::testing {

// One TLS record holding a ClientHello; with `serverName` non-empty it carries a server_name
// extension naming it (after another extension, so the parser has to skip one).
inline std::string clientHello(const std::string& serverName) {
  auto u16 = [](size_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; };
  auto u24 = [&](size_t v) { return std::string(1, static_cast<char>(v >> 16)) + u16(v & 0xffff); };
  std::string extensions = u16(0x002b) + u16(3) + std::string("\x02\x03\x04", 3);  // supported_versions: 1.3
  if (!serverName.empty()) {
    std::string entry = std::string(1, '\0') + u16(serverName.size()) + serverName;  // host_name
    std::string list = u16(entry.size()) + entry;
    extensions += u16(0x0000) + u16(list.size()) + list;
  }
  std::string body = std::string("\x03\x03", 2) + std::string(32, '\x11') +  // legacy version, random
                     std::string(1, '\0') +                                    // no session id
                     u16(2) + std::string("\x13\x01", 2) +                     // TLS_AES_128_GCM_SHA256
                     std::string("\x01\x00", 2) +                              // compression: null
                     u16(extensions.size()) + extensions;
  std::string handshake = std::string(1, '\x01') + u24(body.size()) + body;
  return std::string("\x16\x03\x01", 3) + u16(handshake.size()) + handshake;
}

}  // namespace meshd::proxy::testing
