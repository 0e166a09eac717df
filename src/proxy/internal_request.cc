#include "proxy/internal_request.h"

#include <boost/asio/ip/address.hpp>

#include <string>

namespace meshd::proxy {

bool isInternalRequest(std::optional<std::string_view> forwardedFor) {
  if (!forwardedFor) return false;
  std::string_view v = *forwardedFor;
  if (v.find(',') != std::string_view::npos) return false;  // more than one hop: not trusted
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(v), ec);
  if (ec) return false;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return b[0] == 10 || (b[0] == 192 && b[1] == 168) || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) ||
           a.to_v4() == boost::asio::ip::address_v4::loopback();
  }
  auto b = a.to_v6().to_bytes();
  return (b[0] & 0xfe) == 0xfc || a.to_v6().is_loopback();
}

}  // namespace meshd::proxy
