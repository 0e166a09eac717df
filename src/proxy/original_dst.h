#pragma once
// ORIGINAL_DST clusters: the upstream host is the downstream connection's original destination
// (the address the app dialed, restored by the original_dst listener filter; for a connection that
// was not redirected, its local address). Hosts exist only while used: /clusters lists those a
// connection went to within the cluster's cleanup_interval, as Envoy's cleanup drops idle ones.

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "proxy/config.h"

namespace meshd::proxy {

// The hosts an ORIGINAL_DST cluster has used lately.
// Thread-safety: any thread (workers record, the admin server lists); a mutex guards the map.
class OriginalDstHosts {
 public:
  using Clock = std::chrono::steady_clock;
  explicit OriginalDstHosts(std::chrono::milliseconds cleanupInterval) : cleanupInterval_(cleanupInterval) {}

  void used(const boost::asio::ip::tcp::endpoint& destination, Clock::time_point now = Clock::now());
  // Those used within the cleanup interval before `now`, in address order; older ones are dropped.
  std::vector<Host> recent(Clock::time_point now = Clock::now());

 private:
  std::chrono::milliseconds cleanupInterval_;
  std::mutex mu_;
  std::map<boost::asio::ip::tcp::endpoint, Clock::time_point> lastUsed_;  // guarded by mu_
};

// The host for `destination` (an IPv4-mapped address as IPv4), healthy and without outlier state.
Host originalDstHost(const boost::asio::ip::tcp::endpoint& destination);

// For a request or connection to cluster `c`: an ORIGINAL_DST cluster's host is `destination`,
// written to `storage` and recorded as used; other clusters are not asked (nullptr). nullptr also
// when the destination is unknown (unspecified address), which callers treat as no healthy host.
const Host* useOriginalDst(const ClusterView& c, const boost::asio::ip::tcp::endpoint& destination, Host& storage);

}  // namespace meshd::proxy
