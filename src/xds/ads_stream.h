#pragma once
// One ADS stream, either flavour, as a gRPC callback reactor. Internal to the server
// (ads_server.cc); the protocol itself lives in SotwProtocol / DeltaProtocol.
//
// A stream has no thread of its own (10,000 proxies must not cost 20,000 threads and their
// stacks): gRPC runs the reactions (OnReadDone, OnWriteDone, OnDone) on its small pool, and the
// cache's watch callback runs on the publisher's thread. Each of them takes mu_, feeds the
// Protocol and, when no write is in flight, starts the next one. At most one read and one write are
// outstanding, so a proxy that reads slowly holds back only its own responses (gRPC flow control),
// and one that writes fast is read no faster than its requests are handled.
//
// Lifetime: gRPC owns the reactor from the service method until OnDone, which deletes it. The
// watch callback may run once after cancel() (SnapshotCache's rule), so it reaches the stream only
// through a WatchLink that OnDone clears.

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "xds/ads_server.h"
#include "xds/snapshot_cache.h"
#include "xds/stream_protocol.h"

namespace meshd::xds {

// Records what a request meant in the stream's ProxyStatus.
void reportOutcome(SnapshotCache& cache, uint64_t streamId, const RequestOutcome& outcome);

// How a node resolver's refusal ends the stream: NOT_FOUND for an unknown proxy, else
// INVALID_ARGUMENT.
grpc::Status refusal(const Status& status);

// The address in a gRPC peer string ("ipv4:10.0.0.1:5000", "ipv6:[fd00::1]:5000"), else "".
std::string peerAddress(const std::string& peer);
// The node's meshd.admin_port metadata (see bootstrap.h), or 0.
uint32_t adminPort(const envoy::config::core::v3::Node& node);

template <typename Protocol>
class AdsStream final : public grpc::ServerBidiReactor<typename Protocol::Request, typename Protocol::Response> {
 public:
  using Request = typename Protocol::Request;
  using Response = typename Protocol::Response;

  AdsStream(SnapshotCache& cache, const NodeResolver& resolve, uint64_t streamId, grpc::CallbackServerContext* context)
      : cache_(cache), resolve_(resolve), streamId_(streamId), context_(context) {
    this->StartRead(&request_);
  }

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override {
    if (!ok) {  // the proxy closed its side or went away, or the server is stopping
      std::lock_guard lock(mu_);
      finish(grpc::Status::OK);
      return;
    }
    if (!opened_ && !open()) return;
    std::lock_guard lock(mu_);
    if (finishing_) return;
    reportOutcome(cache_, streamId_, protocol_.handle(request_));
    pump();
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      context_->TryCancel();  // the connection is gone: end the pending read too
      finish(grpc::Status::OK);
    } else if (finishing_) {
      this->Finish(finishStatus_);  // deferred by finish() while this write was in flight
    } else {
      pump();
    }
  }

  void OnDone() override {
    if (opened_) {
      cache_.cancel(watch_);
      {
        std::lock_guard lock(link_->mu);
        link_->stream = nullptr;
      }
      cache_.streamClosed(streamId_);
      spdlog::debug("msg=\"proxy disconnected\" stream={}", streamId_);
    }
    delete this;
  }

 private:
  struct WatchLink {
    std::mutex mu;
    AdsStream* stream = nullptr;  // guarded by mu; null once the stream is done
  };

  // The first request says who the proxy is. Runs without mu_: the resolver may publish a snapshot,
  // and that delivery takes other streams' locks (and the cache's delivery lock), so holding ours
  // could deadlock with a delivery to this key. Nothing else touches the stream yet (no watch, no
  // write), so the lock is not needed until the watch exists.
  bool open() {
    const Request& first = request_;
    if (!first.has_node()) {
      std::lock_guard lock(mu_);
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request of a stream must carry the node"));
      return false;
    }
    StatusOr<std::string> key = resolve_(first.node());
    if (!key.ok()) {
      std::lock_guard lock(mu_);
      finish(refusal(key.status()));
      return false;
    }
    ProxyStatus status;
    status.key = *key;
    status.nodeId = first.node().id();
    status.streamId = streamId_;
    status.delta = Protocol::kDelta;
    status.connectedAt = std::chrono::system_clock::now();
    status.peer = peerAddress(context_->peer());
    status.adminPort = adminPort(first.node());
    cache_.streamOpened(status);
    spdlog::debug("msg=\"proxy connected\" stream={} node=\"{}\" key=\"{}\" delta={}", streamId_, status.nodeId,
                  status.key, Protocol::kDelta);

    link_ = std::make_shared<WatchLink>();
    link_->stream = this;
    // Watch before reading the current snapshot, so that no change falls between the two.
    watch_ = cache_.watch(*key, [link = link_](std::shared_ptr<const Snapshot> s) {
      std::lock_guard lock(link->mu);
      if (link->stream != nullptr) link->stream->onSnapshot(std::move(s));
    });
    opened_ = true;
    std::shared_ptr<const Snapshot> current = cache_.snapshot(*key);
    std::lock_guard lock(mu_);
    // Once the watch has delivered one, it delivers every later one too: the (possibly older)
    // snapshot read here must not replace it.
    if (current && !watched_) protocol_.setSnapshot(std::move(current));
    return true;
  }

  // From the cache's watch, on the publisher's thread. Starts a write without waiting for it.
  void onSnapshot(std::shared_ptr<const Snapshot> snapshot) {
    if (!snapshot) return;
    std::lock_guard lock(mu_);
    watched_ = true;
    protocol_.setSnapshot(std::move(snapshot));
    pump();
  }

  // Under mu_. Starts the next write unless one is in flight. What is due is asked of the protocol
  // only once the last batch is written, so snapshots that arrive meanwhile coalesce into one push.
  void pump() {
    if (writing_ || finishing_) return;
    if (queue_.empty()) {
      for (Response& r : protocol_.takeResponses()) queue_.push_back(std::move(r));
      if (queue_.empty()) return;
    }
    inFlight_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    this->StartWrite(&inFlight_);
  }

  // Under mu_. Ends the stream once; gRPC allows no Finish while a write is in flight, so then it
  // waits for OnWriteDone.
  void finish(grpc::Status status) {
    if (finishing_) return;
    finishing_ = true;
    if (writing_) {
      finishStatus_ = std::move(status);
    } else {
      this->Finish(std::move(status));
    }
  }

  SnapshotCache& cache_;
  const NodeResolver& resolve_;  // the server's; it outlives every stream (stop() waits for OnDone)
  const uint64_t streamId_;
  grpc::CallbackServerContext* const context_;

  // Set by the first OnReadDone, read by OnDone; gRPC orders the two.
  bool opened_ = false;
  SnapshotCache::WatchId watch_ = 0;
  std::shared_ptr<WatchLink> link_;

  Request request_;  // owned by the outstanding read

  std::mutex mu_;  // guards everything below
  Protocol protocol_;
  bool watched_ = false;  // the watch has delivered a snapshot
  std::deque<Response> queue_;  // taken from the protocol, not yet written
  Response inFlight_;           // owned by the outstanding write while writing_
  bool writing_ = false;
  bool finishing_ = false;
  grpc::Status finishStatus_;  // when finish() waits for a write
};

}  // namespace meshd::xds
