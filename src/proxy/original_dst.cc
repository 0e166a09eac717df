#include "proxy/original_dst.h"

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

void OriginalDstHosts::used(const tcp::endpoint& destination, Clock::time_point now) {
  std::lock_guard lock(mu_);
  lastUsed_[destination] = now;
}

std::vector<Host> OriginalDstHosts::recent(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<Host> out;
  for (auto it = lastUsed_.begin(); it != lastUsed_.end();) {
    if (now - it->second > cleanupInterval_) {
      it = lastUsed_.erase(it);
    } else {
      out.push_back(originalDstHost(it->first));
      ++it;
    }
  }
  return out;
}

Host originalDstHost(const tcp::endpoint& destination) {
  auto address = destination.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  Host h;
  h.address = address.to_string();
  h.port = destination.port();
  h.endpoint = tcp::endpoint(address, destination.port());
  return h;
}

const Host* useOriginalDst(const ClusterView& c, const tcp::endpoint& destination, Host& storage) {
  if (!c.originalDst || destination.address().is_unspecified()) return nullptr;
  storage = originalDstHost(destination);
  if (c.originalDstHosts) c.originalDstHosts->used(storage.endpoint);
  return &storage;
}

}  // namespace meshd::proxy
