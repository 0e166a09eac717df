#pragma once
// Idle keep-alive connections to upstream hosts, kept per worker so requests reuse them without a
// lock. A connection is reused only if the peer has not closed it or sent anything since (checked
// with a non-blocking peek) and it has been idle under a minute. Worker thread only.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <vector>

namespace meshd::proxy {

class UpstreamPool {
 public:
  std::optional<boost::asio::ip::tcp::socket> take(const boost::asio::ip::tcp::endpoint& host);
  void give(const boost::asio::ip::tcp::endpoint& host, boost::asio::ip::tcp::socket s);

  static constexpr size_t kMaxIdlePerHost = 64;
  static constexpr std::chrono::seconds kMaxIdleTime{60};

 private:
  struct Idle {
    boost::asio::ip::tcp::socket socket;
    std::chrono::steady_clock::time_point since;
  };
  std::map<boost::asio::ip::tcp::endpoint, std::vector<Idle>> idle_;
};

}  // namespace meshd::proxy
