#include "xds/publisher.h"

#include <spdlog/spdlog.h>

#include "xds/bootstrap.h"

namespace meshd::xds {

namespace {

// Writes arrive in bursts (an update script applies several files): wait this long after a change
// before translating, so one burst costs one translation.
constexpr auto kDebounce = std::chrono::milliseconds(20);

bool ipv6Available(const envoy::config::core::v3::Node& node) {
  const auto& fields = node.metadata().fields();
  auto it = fields.find(kIpv6AvailableKey);
  return it == fields.end() || !it->second.has_bool_value() || it->second.bool_value();
}

}  // namespace

Status XdsPublisher::start() {
  MESHD_RETURN_IF_ERROR(reload());
  thread_ = std::thread([this] { loop(); });
  return okStatus();
}

void XdsPublisher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void XdsPublisher::loop() {
  while (!stopping_) {
    store::Revision seen;
    {
      std::lock_guard lock(mu_);
      seen = world_ ? world_->revision : 0;
    }
    if (store_.waitForRevision(seen, std::chrono::milliseconds(500)) == seen) continue;
    std::this_thread::sleep_for(kDebounce);
    if (Status st = reload(); !st.ok()) {
      spdlog::warn("msg=\"xds state not reloaded\" error=\"{}\"", st.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

Status XdsPublisher::reload() {
  auto world = loadWorld(store_);
  if (!world.ok()) return world.status();
  auto shared = std::make_shared<const World>(std::move(*world));
  std::map<std::string, Proxy> proxies;
  {
    std::lock_guard lock(mu_);
    world_ = shared;
    proxies = proxies_;
  }
  for (const auto& [key, proxy] : proxies) publish(key, proxy, *shared);
  published_ = shared->revision;
  return okStatus();
}

void XdsPublisher::publish(const std::string& key, const Proxy& proxy, const World& world) {
  publish(key, world, translate(world, proxy.id, proxy.info));
}

void XdsPublisher::publish(const std::string& key, const World& world, StatusOr<Translation> t) {
  std::shared_ptr<Snapshot> snapshot;
  if (t.ok()) {
    snapshot = std::make_shared<Snapshot>(toSnapshot(*t));
    if (Status st = snapshot->checkConsistent(); !st.ok()) {
      spdlog::error("msg=\"inconsistent snapshot not published\" proxy={} error=\"{}\"", key, st.message());
      return;
    }
  }
  // The loop and resolve() (on gRPC threads) both publish, each from the world it read: the check
  // and the cache update happen in one step, so an older world never lands after a newer one.
  std::lock_guard publishing(publishMu_);
  {
    std::lock_guard lock(mu_);
    Translated& last = translated_[key];
    if (last.revision > world.revision) return;
    last = {world.revision, t.ok()};
    notes_[key] = t.ok() ? t->notes : std::vector<std::string>{t.status().message()};
  }
  // The resource is gone: the proxy keeps its last configuration, as Envoy would.
  if (!t.ok()) return;
  if (cache_.setSnapshot(key, std::move(snapshot))) {
    spdlog::debug("msg=\"snapshot published\" proxy={} revision={}", key, world.revision);
  }
}

StatusOr<std::string> XdsPublisher::resolve(const envoy::config::core::v3::Node& node) {
  auto id = parseProxyId(node.id());
  if (!id.ok()) return id.status();
  Proxy proxy{*id, {ipv6Available(node)}};
  std::string key = id->key() + (proxy.info.hasIpv6 ? "" : "?ipv6=false");
  std::shared_ptr<const World> world;
  bool added = false;
  {
    std::lock_guard lock(mu_);
    world = world_;
    if (!world) return Status(ErrorKind::kServiceUnavailable, "meshd is starting");
    // Another proxy of the same node was served from this very state: the snapshot is in the
    // cache and the node exists. Translating again would cost every Envoy of a node (hundreds, when
    // they all reconnect after a restart) a full translation on a gRPC thread.
    auto last = translated_.find(key);
    if (last != translated_.end() && last->second.ok && last->second.revision == world->revision) return key;
    // Listed in the same step as reading the world: a reload of any newer world sees the key and
    // publishes for it too, so the translation below cannot be the last one this proxy gets.
    added = proxies_.emplace(key, proxy).second;
  }
  auto t = translate(*world, proxy.id, proxy.info);
  if (!t.ok()) {  // unknown mesh or resource
    std::lock_guard lock(mu_);
    auto last = translated_.find(key);
    // Unless another resolve of the key has served it from a newer world meanwhile.
    if (added && (last == translated_.end() || !last->second.ok)) proxies_.erase(key);
    return t.status();
  }
  publish(key, *world, std::move(t));  // the check's translation is the one published
  return key;
}

StatusOr<Translation> XdsPublisher::translateFor(const std::string& nodeId, bool hasIpv6) {
  auto id = parseProxyId(nodeId);
  if (!id.ok()) return id.status();
  auto world = currentWorld();
  if (!world.ok()) return world.status();
  return translate(*world, *id, {hasIpv6});
}

std::vector<std::string> XdsPublisher::notes(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = notes_.find(key);
  return it == notes_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace meshd::xds
