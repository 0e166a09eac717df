#pragma once
// The state-of-the-world side of one ADS stream (StreamAggregatedResources), without I/O: it takes
// the proxy's requests and the node's snapshots and says which responses are due. The stream
// (ads_stream.h) feeds it and writes what it returns.
//
// Rules it keeps (envoy-behaviour.md, "xDS protocol"):
// - per type, the subscribed names: for Listener and Cluster an empty list (or "*") is every
//   resource; for other types only the named ones are sent;
// - a type is sent when the version of what the stream subscribes to differs from what this stream
//   last sent of it, so an unchanged snapshot, an ACK or a NACK sends nothing;
// - every response has a fresh nonce and version_info = Snapshot::versionOf(type); a request whose
//   nonce is not the latest of its type is stale and ignored (a current one repeats its names);
// - responses come in make-before-break order (inPushOrder).
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

class SotwProtocol {
 public:
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using Response = envoy::service::discovery::v3::DiscoveryResponse;
  static constexpr bool kDelta = false;

  // Applies a request's subscription and classifies it.
  RequestOutcome handle(const Request& request);
  // The node's newest snapshot (never null).
  void setSnapshot(std::shared_ptr<const Snapshot> snapshot);
  // The responses due now, in push order; they count as sent.
  std::vector<Response> takeResponses();

 private:
  struct TypeState {
    bool wildcard = false;
    std::set<std::string> names;  // when not wildcard
    std::string lastNonce;
    bool sent = false;
    std::string sentVersion;  // of the resources last sent (the subscribed subset for named types)
  };

  std::string versionFor(const std::string& typeUrl, const TypeState& t) const;

  std::map<std::string, TypeState, std::less<>> types_;
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t nonces_ = 0;
};

}  // namespace meshd::xds
