#pragma once
// The colorteller's request handling, apart from its sockets so it can be tested directly.
// Thread-safe: the flake settings are atomics.

#include <atomic>
#include <string>

#include "api/http.h"

namespace meshd::apps {

class Teller {
 public:
  explicit Teller(std::string color) : color_(std::move(color)) {}

  // GET /ping: empty 200. /setFlake?rate=R&code=C: from now on R% of answers are status C (rate 0
  // stops it). Anything else: 200 with the color as the whole body, or the flake status.
  api::HttpResponse handle(const api::HttpRequest& req);

 private:
  std::string color_;
  std::atomic<int> flakeRate_{0};    // percent
  std::atomic<int> flakeCode_{500};
  std::atomic<uint64_t> served_{0};
};

}  // namespace meshd::apps
