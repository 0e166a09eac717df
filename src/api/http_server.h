#pragma once
// An HTTP/1.1 server (Boost.Beast) that hands each request to one handler. Keep-alive, bounded
// request size, idle timeout. The handler runs on one of the server's threads and may be called
// concurrently; it must be thread-safe.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/http.h"
#include "common/status.h"

namespace meshd::api {

class HttpServer {
 public:
  explicit HttpServer(HttpHandler handler);
  ~HttpServer();

  // Binds and listens on host:port (port 0 picks one); returns the bound endpoint. For an IPv6
  // address, `v6only` says whether IPv4 clients are refused (IPV6_V6ONLY); unset keeps the system's default.
  StatusOr<boost::asio::ip::tcp::endpoint> listen(const std::string& host, uint16_t port,
                                                  std::optional<bool> v6only = std::nullopt);
  // Serves on `threads` threads until stop().
  void start(int threads);
  void stop();

 private:
  void accept();

  HttpHandler handler_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
};

// Splits "host:port" or "[v6]:port".
StatusOr<std::pair<std::string, uint16_t>> parseHostPort(const std::string& s);

}  // namespace meshd::api
