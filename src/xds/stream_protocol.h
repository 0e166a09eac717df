#pragma once
// What the two ADS protocol flavours (sotw_protocol.h, delta_protocol.h) share: how a request is
// classified for status reports, and the order in which types are pushed.

#include <algorithm>
#include <string>
#include <vector>

#include "xds/resource_types.h"

namespace meshd::xds {

// What one request meant, so the stream can report it (SnapshotCache::streamUpdated).
struct RequestOutcome {
  enum class Kind {
    kIgnored,    // no type, or a stale nonce: it answers a response that has since been replaced
    kSubscribe,  // no nonce: a first request for the type (or a subscription change)
    kAck,        // the latest response was applied
    kNack,       // the latest response was rejected
  };
  Kind kind = Kind::kIgnored;
  std::string typeUrl;
  std::string version;  // kAck: the version now applied
  std::string reason;   // kNack: the proxy's error message
};

// The keys of `byType` (type URL -> anything), in make-before-break order: kPushOrder first, then
// any other type in name order.
template <typename Map>
std::vector<std::string> inPushOrder(const Map& byType) {
  std::vector<std::string> out;
  for (std::string_view type : kPushOrder) {
    if (byType.find(type) != byType.end()) out.emplace_back(type);
  }
  for (const auto& [type, _] : byType) {
    if (std::find(kPushOrder.begin(), kPushOrder.end(), type) == kPushOrder.end()) out.push_back(type);
  }
  return out;
}

}  // namespace meshd::xds
