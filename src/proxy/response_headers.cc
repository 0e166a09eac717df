#include "proxy/response_headers.h"

#include <charconv>
#include <chrono>
#include <ctime>

namespace meshd::proxy {

std::string_view httpDate() {
  thread_local std::time_t formatted = 0;
  thread_local char text[64];
  thread_local size_t size = 0;
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != formatted) {
    std::tm tm;
    ::gmtime_r(&now, &tm);
    size = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);  // the C locale's names
    formatted = now;
  }
  return std::string_view(text, size);
}

void addProxiedResponseHeaders(ResponseHead& head, const ServerHeader& server, std::optional<uint64_t> serviceMs,
                               bool eraseLength) {
  constexpr uint32_t kServiceTime = 1, kDate = 2, kServer = 4, kLength = 8;
  static constexpr std::string_view kNames[] = {"x-envoy-upstream-service-time", "date", "server", "content-length"};
  static constexpr FieldNames kSwept{kNames};
  uint32_t erase = (serviceMs ? kServiceTime : 0) | (eraseLength ? kLength : 0);
  uint32_t replace = server.mode == ServerHeader::kOverwrite ? kServer : 0;  // in place, as Envoy's setServer()
  const std::string_view values[] = {{}, {}, server.name, {}};
  uint32_t present = head.sweep(kSwept, erase, replace, values);
  if (serviceMs) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, *serviceMs).ptr;
    head.add(kNames[0], std::string_view(digits, end - digits));
  }
  if (!(present & kDate)) head.add("date", httpDate());
  if (server.mode != ServerHeader::kPassThrough && !(present & kServer)) head.add("server", server.name);
}

}  // namespace meshd::proxy
