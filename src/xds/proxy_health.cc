#include "xds/proxy_health.h"

#include <utility>  // before boost/asio, which uses std::exchange without it

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace meshd::xds {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

ClusterHealth parseClusters(std::string_view text) {
  constexpr std::string_view kSep = "::";
  ClusterHealth out;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    // cluster::host:port::health_flags::flags — the host may hold ':' but never "::" before its port
    // except as an IPv6 address, so take the cluster up to the first "::" and the rest from the right.
    size_t key = line.rfind("::health_flags::");
    size_t first = line.find(kSep);
    if (key == std::string_view::npos || first == std::string_view::npos || first >= key) continue;
    std::string cluster(line.substr(0, first));
    std::string host(line.substr(first + kSep.size(), key - first - kSep.size()));
    std::string flags(line.substr(key + std::string_view("::health_flags::").size()));
    out[cluster].push_back({host, flags});
  }
  return out;
}

StatusOr<ClusterHealth> fetchClusterHealth(const std::string& host, uint32_t port, std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, "/clusters", 11};
  http::response<http::string_body> res;
  req.set(http::field::host, host);
  beast::error_code result = boost::asio::error::timed_out;
  boost::system::error_code ec;
  tcp::endpoint at(boost::asio::ip::make_address(host, ec), static_cast<uint16_t>(port));
  if (ec) return badRequest("not an address: " + host);
  stream.expires_after(timeout);
  stream.async_connect(at, [&](beast::error_code e) {
    if (e) return void(result = e);
    http::async_write(stream, req, [&](beast::error_code e, size_t) {
      if (e) return void(result = e);
      http::async_read(stream, buffer, res, [&](beast::error_code e, size_t) { result = e; });
    });
  });
  io.run();
  std::string where = (at.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (result) return Status(ErrorKind::kServiceUnavailable, "admin " + where + ": " + result.message());
  if (res.result_int() != 200) return Status(ErrorKind::kServiceUnavailable, "admin " + where + ": HTTP " + std::to_string(res.result_int()));
  return parseClusters(res.body());
}

}  // namespace meshd::xds
