#pragma once
// The translation loop: follows the store, and for every proxy that has connected keeps a fresh
// snapshot in the cache (the cache wakes only the streams whose snapshot changed). Also the ADS
// server's node resolver: a node is accepted only if its virtual node or gateway exists.
//
// Thread-safety: resolve(), notes() and translateFor() may be called from any thread; start() and
// stop() from the owner's. The loop runs on its own thread.

#include <envoy/config/core/v3/base.pb.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "store/store.h"
#include "xds/snapshot_cache.h"
#include "xds/translate.h"

namespace meshd::xds {

class XdsPublisher {
 public:
  XdsPublisher(store::Store& store, SnapshotCache& cache) : store_(store), cache_(cache) {}
  ~XdsPublisher() { stop(); }

  Status start();
  void stop();

  // The cache key of a connecting proxy; NotFound for an unknown node, BadRequest for a bad id.
  StatusOr<std::string> resolve(const envoy::config::core::v3::Node& node);
  // What meshd would send the proxy `nodeId` now (for config dumps), from the latest state.
  StatusOr<Translation> translateFor(const std::string& nodeId, bool hasIpv6 = true);
  // The state as it is in the store now (not what the loop last saw: callers just wrote it).
  StatusOr<World> currentWorld() { return loadWorld(store_); }
  // The store's revision now, and the one whose snapshots are all in the cache: once the second
  // reaches the first, what a client just wrote is on its way to every proxy.
  store::Revision storeRevision() { return store_.revision(); }
  store::Revision publishedRevision() const { return published_; }
  // The notes of the last translation published under `key`.
  std::vector<std::string> notes(const std::string& key) const;

 private:
  struct Proxy {
    ProxyId id;
    ProxyInfo info;
  };
  void loop();
  Status reload();
  void publish(const std::string& key, const Proxy& proxy, const World& world);
  void publish(const std::string& key, const World& world, StatusOr<Translation> t);

  store::Store& store_;
  SnapshotCache& cache_;
  std::atomic<bool> stopping_{false};
  std::atomic<store::Revision> published_{0};
  std::thread thread_;

  mutable std::mutex mu_;
  std::shared_ptr<const World> world_;             // guarded by mu_
  std::map<std::string, Proxy> proxies_;           // by cache key; guarded by mu_
  std::map<std::string, std::vector<std::string>> notes_;  // guarded by mu_
  struct Translated {
    store::Revision revision = 0;  // of the world last published for the key
    bool ok = false;               // its snapshot went to the cache (else the node was missing)
  };
  std::map<std::string, Translated> translated_;  // by cache key; guarded by mu_
  std::mutex publishMu_;  // held across one publish's check and cache update, taken before mu_
};

}  // namespace meshd::xds
