#include "discovery/dns_publisher.h"

#include <spdlog/spdlog.h>

#include "discovery/registry.h"
#include "discovery/zones.h"

namespace meshd::discovery {

Status DnsPublisher::start() {
  MESHD_RETURN_IF_ERROR(publish());
  thread_ = std::thread([this] {
    while (!stopping_) {
      // Wake on any commit; the registry is small next to a rebuild's budget, so rebuild whole.
      if (store_.waitForRevision(published_, std::chrono::milliseconds(500)) == published_) continue;
      if (Status st = publish(); !st.ok()) {
        spdlog::warn("msg=\"dns zones not rebuilt\" error=\"{}\"", st.message());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  });
  return okStatus();
}

void DnsPublisher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

Status DnsPublisher::publish() {
  auto registry = loadRegistry(store_);
  if (!registry.ok()) return registry.status();
  size_t skipped = 0;
  auto zones = buildZones(*registry, &skipped);
  server_.setZones(zones);
  published_ = registry->revision;
  spdlog::debug("msg=\"dns zones published\" revision={} zones={} records={} skipped={}", published_,
                zones->zoneCount(), zones->recordCount(), skipped);
  return okStatus();
}

}  // namespace meshd::discovery
