#pragma once
// Plain HTTP request and response values exchanged between the server and the API adapters, so
// that adapters are testable without sockets.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace meshd::api {

struct HttpRequest {
  std::string method;                          // "GET", "PUT", ...
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace meshd::api
