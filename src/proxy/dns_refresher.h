#pragma once
// Keeps STRICT_DNS and LOGICAL_DNS clusters resolved: resolves each at once and then every
// dns_refresh_rate (default 5 s; the answer's TTL with respect_dns_ttl), on a thread of its own (c-ares, blocking), and hands the result to
// the main thread's callback. Thread-safety: start/forget on the main thread; results are delivered
// on the main thread.

#include <envoy/config/cluster/v3/cluster.pb.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "proxy/dns_family.h"

namespace meshd::proxy {

class DnsRefresher {
 public:
  using OnResolved = std::function<void(const std::string& cluster, const LookupResult& r)>;

  DnsRefresher(boost::asio::io_context& main, std::vector<std::string> servers, OnResolved onResolved);
  ~DnsRefresher();

  // (Re)starts resolving `c`; replaces any earlier version of the same cluster.
  void start(const envoy::config::cluster::v3::Cluster& c);
  // Stops resolving clusters not in `keep`.
  void retain(const std::vector<std::string>& keep);
  void stop();

 private:
  struct Job {
    std::string cluster;
    uint64_t generation;
    std::string hostname;
    LookupFamily family;
  };
  struct Entry {
    uint64_t generation = 0;
    Job job;
    std::chrono::milliseconds refresh{5000};
    bool respectTtl = false;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  void enqueue(const Job& j);
  void run();
  void onResult(const Job& j, const LookupResult& r);

  boost::asio::io_context& main_;
  std::vector<std::string> servers_;
  OnResolved onResolved_;
  std::map<std::string, Entry> entries_;  // main thread
  uint64_t nextGeneration_ = 1;           // main thread

  std::mutex mu_;  // guards the queue and stopping_
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

LookupFamily lookupFamilyOf(const envoy::config::cluster::v3::Cluster& c);

}  // namespace meshd::proxy
