#include "proxy/response_headers.h"

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

void addConnectionManagerHeaders(ResponseHead& head, const ServerHeader& server) {
  if (!head.find("date")) head.add("date", httpDate());
  switch (server.mode) {
    case ServerHeader::kOverwrite: head.set("server", server.name); break;
    case ServerHeader::kAppendIfAbsent:
      if (!head.find("server")) head.add("server", server.name);
      break;
    case ServerHeader::kPassThrough: break;
  }
}

}  // namespace meshd::proxy
