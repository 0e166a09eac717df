#include "proxy/h2/header_block.h"

#include <algorithm>
#include <array>

namespace meshd::proxy::h2 {

namespace {

bool isPseudo(std::string_view name) { return !name.empty() && name[0] == ':'; }

bool hasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool equalsLower(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == y;
         });
}

// RFC 9113 §8.2.2: fields that only mean something to one HTTP/1 hop.
bool connectionSpecific(std::string_view name, std::string_view value) {
  static constexpr std::array<std::string_view, 5> kNames = {"connection", "keep-alive", "proxy-connection",
                                                             "transfer-encoding", "upgrade"};
  for (std::string_view n : kNames) {
    if (equalsLower(name, n)) return true;
  }
  return equalsLower(name, "te") && !equalsLower(value, "trailers");
}

uint8_t* bytes(const std::string& s) { return reinterpret_cast<uint8_t*>(const_cast<char*>(s.data())); }

}  // namespace

bool InboundHeaders::add(std::string_view name, std::string_view value, const HeaderLimits& limits) {
  bytes_ += name.size() + value.size();
  ++count_;
  if (bytes_ > limits.maxBytes || count_ > limits.maxCount) return false;
  if (name == "cookie") {
    if (!cookie_.empty()) cookie_.append("; ");
    cookie_.append(value);
  } else {
    fields_.emplace_back(name, value);
  }
  return true;
}

Headers InboundHeaders::take() {
  if (!cookie_.empty()) fields_.emplace_back("cookie", std::move(cookie_));
  Headers h = std::move(fields_);
  fields_.clear();
  cookie_.clear();
  bytes_ = count_ = 0;
  return h;
}

OutboundHeaders::OutboundHeaders(const Headers& headers) {
  nv_.reserve(headers.size());
  lowered_.reserve(headers.size());
  // nghttp2 wants every pseudo-header before the regular fields; heads built from HTTP/1 or by a
  // filter need not be in that order.
  for (const auto& [name, value] : headers) {
    if (isPseudo(name)) push(name, value);
  }
  for (const auto& [name, value] : headers) {
    if (!isPseudo(name) && !connectionSpecific(name, value)) push(name, value);
  }
}

void OutboundHeaders::push(const std::string& name, const std::string& value) {
  const std::string* n = &name;
  if (hasUpper(name)) {  // HTTP/2 field names are lowercase; a peer resets a stream that has others
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    n = &lowered_.emplace_back(std::move(lower));
  }
  nv_.push_back({bytes(*n), bytes(value), n->size(), value.size(), NGHTTP2_NV_FLAG_NONE});
}

}  // namespace meshd::proxy::h2
