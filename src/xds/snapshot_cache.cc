#include "xds/snapshot_cache.h"

#include <set>

namespace meshd::xds {

namespace {

// Two snapshots differ when any type's version does; the versions hash every resource's bytes.
bool sameVersions(const Snapshot& a, const Snapshot& b) {
  std::set<std::string_view> types;
  for (const auto& [type, _] : a.resources) types.insert(type);
  for (const auto& [type, _] : b.resources) types.insert(type);
  for (std::string_view type : types) {
    if (a.versionOf(type) != b.versionOf(type)) return false;
  }
  return true;
}

}  // namespace

bool SnapshotCache::setSnapshot(const std::string& key, std::shared_ptr<const Snapshot> snapshot) {
  if (!snapshot) {
    removeSnapshot(key);
    return false;
  }
  std::lock_guard delivering(deliverMu_);
  std::vector<Callback> toCall;
  {
    std::lock_guard lock(mu_);
    std::shared_ptr<const Snapshot>& slot = snapshots_[key];
    bool changed = !slot || !sameVersions(*slot, *snapshot);
    slot = snapshot;
    if (!changed) return false;
    if (auto it = watchesByKey_.find(key); it != watchesByKey_.end()) {
      toCall.reserve(it->second.size());
      for (const auto& [id, cb] : it->second) toCall.push_back(cb);
    }
  }
  // Outside mu_: a callback may read the cache (snapshot(), proxies()) without deadlocking.
  for (const Callback& cb : toCall) cb(snapshot);
  return true;
}

void SnapshotCache::removeSnapshot(const std::string& key) {
  std::lock_guard lock(mu_);
  snapshots_.erase(key);
}

std::shared_ptr<const Snapshot> SnapshotCache::snapshot(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = snapshots_.find(key);
  return it == snapshots_.end() ? nullptr : it->second;
}

SnapshotCache::WatchId SnapshotCache::watch(const std::string& key, Callback cb) {
  std::lock_guard lock(mu_);
  WatchId id = nextWatch_++;
  watchesByKey_[key].emplace(id, std::move(cb));
  watchKeys_.emplace(id, key);
  return id;
}

void SnapshotCache::cancel(WatchId id) {
  std::lock_guard lock(mu_);
  auto k = watchKeys_.find(id);
  if (k == watchKeys_.end()) return;
  auto byKey = watchesByKey_.find(k->second);
  byKey->second.erase(id);
  if (byKey->second.empty()) watchesByKey_.erase(byKey);
  watchKeys_.erase(k);
}

void SnapshotCache::streamOpened(const ProxyStatus& status) {
  std::lock_guard lock(mu_);
  streams_[status.streamId] = status;
}

void SnapshotCache::streamUpdated(uint64_t streamId, const std::function<void(ProxyStatus&)>& update) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(streamId);
  if (it != streams_.end()) update(it->second);
}

void SnapshotCache::streamClosed(uint64_t streamId) {
  std::lock_guard lock(mu_);
  streams_.erase(streamId);
}

std::vector<ProxyStatus> SnapshotCache::proxies() const {
  std::lock_guard lock(mu_);
  std::vector<ProxyStatus> out;
  out.reserve(streams_.size());
  for (const auto& [id, status] : streams_) out.push_back(status);
  return out;
}

}  // namespace meshd::xds
