#pragma once
// Small pure encodings shared by the HTTP adapters and the store.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace meshd {

// RFC 3986 percent-decoding; '+' is kept as is (AWS clients encode spaces as %20).
std::optional<std::string> percentDecode(std::string_view s);
// Encodes everything but unreserved characters.
std::string percentEncode(std::string_view s);

// Splits "a=1&b=2" into decoded pairs; a repeated key keeps its last value.
std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query);

std::string base64UrlEncode(std::string_view s);
std::optional<std::string> base64UrlDecode(std::string_view s);

// 64-bit FNV-1a, as 16 hex digits: a stable fingerprint of a request (not a security hash).
std::string fingerprint(std::string_view s);

// `n` random characters from [a-z0-9], for resource ids such as Cloud Map's "ns-..." and "srv-...".
std::string randomToken(size_t n);

// A random RFC 4122 version 4 UUID.
std::string uuid4();

}  // namespace meshd
