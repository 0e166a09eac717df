#pragma once
// Idle keep-alive connections to upstream hosts, kept per worker so requests reuse them without a
// lock, and per cluster as Envoy's pools are: a cluster's connections count in its own stats and
// never serve another cluster that happens to name the same address. A connection is reused only if it has been idle under a minute and, once idle for
// kPeekAfter or more, the peer has not closed it or sent anything since (a non-blocking peek; a
// connection given back moments ago skips that system call, and a peer that closed it meanwhile
// anyway shows as a reset before any response, which exchange() retries on a new connection).
// Worker thread only.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <memory>
#include <vector>

#include "proxy/timed_stream.h"

namespace meshd::proxy {

class UpstreamPool {
 public:
  // Streams, not bare sockets: a Beast stream made per request (its state and timer) cost as much as
  // a header's parsing. nullptr when there is no usable idle connection.
  using Stream = std::unique_ptr<TimedStream>;
  Stream take(std::string_view cluster, const boost::asio::ip::tcp::endpoint& host);
  void give(std::string_view cluster, const boost::asio::ip::tcp::endpoint& host, Stream s);
  // Closes the idle connections of clusters that `keep` does not name (removed ones). A busy one of
  // theirs closes when it is given back: give() asks `keep` about a cluster it holds nothing for.
  void retain(std::function<bool(std::string_view cluster)> keep);

  static constexpr size_t kMaxIdlePerHost = 64;
  static constexpr std::chrono::seconds kMaxIdleTime{60};
  static constexpr std::chrono::milliseconds kPeekAfter{100};

 private:
  struct Idle {
    Stream stream;
    std::chrono::steady_clock::time_point since;
  };
  using Hosts = std::map<boost::asio::ip::tcp::endpoint, std::vector<Idle>>;
  std::map<std::string, Hosts, std::less<>> idle_;  // by cluster: looked up without a copy of its name
  std::function<bool(std::string_view cluster)> keep_;
};

}  // namespace meshd::proxy
