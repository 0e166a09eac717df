#include "colorteller/teller.h"

#include <string_view>

#include "common/encoding.h"

namespace meshd::apps {

namespace {

api::HttpResponse text(int status, std::string body) {
  return {status, {{"content-type", "text/plain"}}, std::move(body)};
}

}  // namespace

api::HttpResponse Teller::handle(const api::HttpRequest& req) {
  size_t q = req.target.find('?');
  std::string_view path = std::string_view(req.target).substr(0, q);
  if (path == "/ping") return {200, {}, ""};
  if (path == "/setFlake") {
    auto query = parseQuery(q == std::string::npos ? "" : std::string_view(req.target).substr(q + 1));
    int rate = 0, code = 500;
    try {
      if (query && query->count("rate")) rate = std::stoi(query->at("rate"));
      if (query && query->count("code")) code = std::stoi(query->at("code"));
    } catch (...) {
      return text(400, "rate and code must be integers");
    }
    if (rate < 0 || rate > 100 || code < 100 || code > 599) return text(400, "rate must be 0..100 and code 100..599");
    flakeRate_ = rate;
    flakeCode_ = code;
    return text(200, "rate: " + std::to_string(rate) + ", code: " + std::to_string(code));
  }
  // Deterministic flakes: of every 100 answers, the first `rate` fail. Tests can count on it.
  uint64_t n = served_++;
  if (static_cast<int>(n % 100) < flakeRate_.load()) return text(flakeCode_.load(), "");
  return text(200, color_);
}

}  // namespace meshd::apps
