#pragma once
// The incremental side of one ADS stream (DeltaAggregatedResources), without I/O: it takes the
// proxy's requests and the node's snapshots and says which responses are due. The stream
// (ads_stream.h) feeds it and writes what it returns.
//
// Rules it keeps (envoy-behaviour.md, "xDS protocol"):
// - per type, a subscription edited by resource_names_subscribe / _unsubscribe; "*" is every
//   resource, and for Listener and Cluster a first request subscribing to nothing means "*" too;
// - per type, the version of each resource the proxy holds: seeded from initial_resource_versions
//   (so a reconnecting proxy is not sent what it has) and updated with every response;
// - a response carries the subscribed resources whose version differs from the proxy's, and
//   removed_resources for those it holds that left the snapshot; nothing due means nothing sent;
// - ACK/NACK by nonce as in SotW, except that a stale request's subscription changes still apply:
//   they are deltas, and the proxy will not repeat them.
//
// Thread-compatible: one stream owns it, under that stream's lock.

#include <envoy/service/discovery/v3/discovery.pb.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "xds/snapshot.h"
#include "xds/stream_protocol.h"

namespace meshd::xds {

class DeltaProtocol {
 public:
  using Request = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using Response = envoy::service::discovery::v3::DeltaDiscoveryResponse;
  static constexpr bool kDelta = true;

  // Applies a request's subscription changes and classifies it.
  RequestOutcome handle(const Request& request);
  // The node's newest snapshot (never null).
  void setSnapshot(std::shared_ptr<const Snapshot> snapshot);
  // The responses due now, in push order; they count as delivered.
  std::vector<Response> takeResponses();

 private:
  struct TypeState {
    bool wildcard = false;
    std::set<std::string> names;                // explicit subscriptions
    std::map<std::string, std::string> held;    // what the proxy holds: name -> version
    bool answered = false;                      // a response of this type went out on this stream
    std::string lastNonce;
    std::string lastSystemVersion;              // of the response that carried lastNonce
  };

  std::map<std::string, TypeState, std::less<>> types_;
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t nonces_ = 0;
};

}  // namespace meshd::xds
