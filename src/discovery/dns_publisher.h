#pragma once
// Keeps the DNS server's zones in step with the store: rebuilds them from the registry whenever
// the store's revision moves, on its own thread, and hands them to the server.
//
// Thread-safety: start() and stop() from the owner's thread; everything else runs on the
// publisher's thread.

#include <atomic>
#include <thread>

#include "dns/server.h"
#include "store/store.h"

namespace meshd::discovery {

class DnsPublisher {
 public:
  DnsPublisher(store::Store& store, dns::DnsServer& server) : store_(store), server_(server) {}
  ~DnsPublisher() { stop(); }

  // Publishes the current zones before returning, then follows the store.
  Status start();
  void stop();

 private:
  Status publish();

  store::Store& store_;
  dns::DnsServer& server_;
  std::atomic<bool> stopping_{false};
  store::Revision published_ = 0;  // owned by the publisher's thread after start()
  std::thread thread_;
};

}  // namespace meshd::discovery
