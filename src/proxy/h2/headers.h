#pragma once
// Header fields as the HTTP/2 codec and its users exchange them.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace meshd::proxy::h2 {

// Name/value pairs in order, pseudo-headers (":method", ":status", ...) first.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HeaderLimits {
  // Envoy counts the names' and values' bytes against max_request_headers_kb (60 KiB by default)
  // and the fields against max_headers_count (100 by default).
  size_t maxBytes = 60 * 1024;
  size_t maxCount = 100;
};

// A 1xx response head (100 Continue, 103 Early Hints): the final head is still to come.
inline bool isInformational(const Headers& h) {
  for (const auto& [name, value] : h) {
    if (name == ":status") return value.size() == 3 && value[0] == '1';
  }
  return false;
}

}  // namespace meshd::proxy::h2
