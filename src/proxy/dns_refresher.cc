#include "proxy/dns_refresher.h"

#include <fmt/ranges.h>

#include <boost/asio/post.hpp>

#include "proxy/dns_resolver.h"
#include "proxy/loggers.h"

namespace meshd::proxy {

using envoy::config::cluster::v3::Cluster;

LookupFamily lookupFamilyOf(const Cluster& c) {
  switch (c.dns_lookup_family()) {
    case Cluster::V4_ONLY: return LookupFamily::kV4Only;
    case Cluster::V6_ONLY: return LookupFamily::kV6Only;
    case Cluster::V4_PREFERRED: return LookupFamily::kV4Preferred;
    case Cluster::ALL: return LookupFamily::kAll;
    default: return LookupFamily::kAuto;
  }
}

DnsRefresher::DnsRefresher(boost::asio::io_context& main, std::vector<std::string> servers, OnResolved onResolved)
    : main_(main), servers_(std::move(servers)), onResolved_(std::move(onResolved)) {
  thread_ = std::thread([this] { run(); });
}

DnsRefresher::~DnsRefresher() { stop(); }

void DnsRefresher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [n, e] : entries_) e.timer->cancel();
}

void DnsRefresher::start(const Cluster& c) {
  const auto& sa = c.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
  Entry& e = entries_[c.name()];
  if (e.timer) e.timer->cancel();
  e.generation = nextGeneration_++;
  e.job = {c.name(), e.generation, sa.address(), lookupFamilyOf(c)};
  if (c.has_dns_refresh_rate()) {
    e.refresh = std::chrono::milliseconds(c.dns_refresh_rate().seconds() * 1000 + c.dns_refresh_rate().nanos() / 1000000);
  }
  e.respectTtl = c.respect_dns_ttl();
  e.timer = std::make_shared<boost::asio::steady_timer>(main_);
  enqueue(e.job);
}

void DnsRefresher::retain(const std::vector<std::string>& keep) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (std::find(keep.begin(), keep.end(), it->first) != keep.end()) {
      ++it;
    } else {
      it->second.timer->cancel();
      it = entries_.erase(it);
    }
  }
}

void DnsRefresher::enqueue(const Job& j) {
  std::lock_guard lock(mu_);
  queue_.push_back(j);
  cv_.notify_all();
}

void DnsRefresher::run() {
  CaresResolver resolver(servers_, std::chrono::milliseconds(1000));
  for (;;) {
    Job j;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      j = queue_.front();
      queue_.pop_front();
    }
    LookupResult r = resolver.lookup(j.hostname, j.family);
    boost::asio::post(main_, [this, j, r] { onResult(j, r); });
  }
}

void DnsRefresher::onResult(const Job& j, const LookupResult& r) {
  auto it = entries_.find(j.cluster);
  if (it == entries_.end() || it->second.generation != j.generation) return;  // stale
  logger(Log::kDns).debug("msg=\"dns resolution\" cluster={} hostname={} failed={} addresses=\"{}\" ttl={}", j.cluster,
                          j.hostname, r.failed, fmt::join(r.addresses, ","), r.ttl);
  onResolved_(j.cluster, r);
  auto timer = it->second.timer;
  timer->expires_after(nextRefresh(r, it->second.respectTtl, it->second.refresh));
  timer->async_wait([this, j](boost::system::error_code ec) {
    if (ec) return;
    auto it = entries_.find(j.cluster);
    if (it != entries_.end() && it->second.generation == j.generation) enqueue(j);
  });
}

}  // namespace meshd::proxy
