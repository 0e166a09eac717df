#pragma once
// The snapshot cache: the latest snapshot of every proxy key, and who is waiting for changes.
// Knows nothing of gRPC: the ADS server (ads_server.h) watches it; meshd's translation loop sets
// snapshots. Also keeps what each connected proxy last ACKed and NACKed, for `meshctl status`.
//
// Thread-safe: every method may be called from any thread. Watch callbacks run on the thread that
// called setSnapshot(), without the cache's lock held; they must be quick (hand off, don't work) and
// must not call setSnapshot(). Callbacks see a key's snapshots in the order they were set: two
// setSnapshot() calls never interleave their deliveries. A callback may still run once after
// cancel() returns (its delivery had begun), so it must own, not borrow, what it touches.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xds/snapshot.h"

namespace meshd::xds {

// What the server learns about one connected stream, for status reports.
struct ProxyStatus {
  std::string key;        // e.g. mesh/m/virtualNode/n
  std::string nodeId;     // as the proxy sent it
  uint64_t streamId = 0;
  bool delta = false;
  std::map<std::string, std::string> ackedVersion;  // type URL -> last ACKed version
  std::string lastNackType;
  std::string lastNackReason;
  std::chrono::system_clock::time_point connectedAt;
  std::string peer;        // the proxy's address as meshd sees it: "198.18.0.10" or "fd00::a"
  uint32_t adminPort = 0;  // node metadata meshd.admin_port; 0 when the bootstrap did not say
};

class SnapshotCache {
 public:
  using WatchId = uint64_t;
  using Callback = std::function<void(std::shared_ptr<const Snapshot>)>;

  // Replaces `key`'s snapshot; watchers of `key` are called when it differs from the previous one
  // (some type's versionOf() differs, or there was none). Returns whether anything changed.
  // A null snapshot is removeSnapshot().
  bool setSnapshot(const std::string& key, std::shared_ptr<const Snapshot> snapshot);
  // Forgets `key`'s snapshot. Watchers are not called: connected proxies keep what they have until
  // a new snapshot is set (a proxy serving stale config beats one serving none).
  void removeSnapshot(const std::string& key);
  std::shared_ptr<const Snapshot> snapshot(const std::string& key) const;

  // `cb` is called with every new snapshot of `key` set after watch() returns, not with the
  // current one: call snapshot() after watch(), and let any delivery supersede what it returned.
  WatchId watch(const std::string& key, Callback cb);
  void cancel(WatchId id);

  // Stream bookkeeping, reported by the server. Updates of an unknown (closed) stream are ignored;
  // `update` runs under the cache's lock, so it should only assign fields.
  void streamOpened(const ProxyStatus& status);
  void streamUpdated(uint64_t streamId, const std::function<void(ProxyStatus&)>& update);
  void streamClosed(uint64_t streamId);
  std::vector<ProxyStatus> proxies() const;

 private:
  std::mutex deliverMu_;  // held across one setSnapshot() (before mu_), so deliveries stay in order
  mutable std::mutex mu_;  // guards everything below
  std::map<std::string, std::shared_ptr<const Snapshot>> snapshots_;
  // Indexed by key: a change of one key must not scan every proxy's watch (10,000 streams, 100 keys).
  std::map<std::string, std::map<WatchId, Callback>, std::less<>> watchesByKey_;
  std::map<WatchId, std::string> watchKeys_;
  WatchId nextWatch_ = 1;
  std::map<uint64_t, ProxyStatus> streams_;
};

}  // namespace meshd::xds
