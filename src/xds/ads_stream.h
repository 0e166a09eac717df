#pragma once
// One ADS stream, either flavour, over the synchronous gRPC API. Internal to the server
// (ads_server.cc); the protocol itself lives in SotwProtocol / DeltaProtocol.
//
// Threads: the gRPC handler's thread reads requests into an Inbox; a writer thread started per
// stream owns the Protocol, takes requests and snapshots from the Inbox, and is the only one to
// write. A snapshot change reaches the writer through the Inbox, so the cache's callback only
// stores a pointer and signals, never waiting on the network.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/status.h"
#include "xds/ads_server.h"
#include "xds/snapshot_cache.h"
#include "xds/stream_protocol.h"

namespace meshd::xds {

// What arrived for a stream's writer since it last looked. Thread-safe; shared by the reader, the
// writer and the cache's watch callback (which may outlive the stream by one delivery).
template <typename Request>
class Inbox {
 public:
  struct Batch {
    std::vector<Request> requests;
    std::shared_ptr<const Snapshot> snapshot;  // the newest since the last batch, or null
    bool closed = false;
  };

  // Blocks while too many requests wait: a proxy that writes faster than we answer is slowed down
  // by gRPC flow control instead of growing this queue. Dropped once closed.
  void pushRequest(Request request) {
    std::unique_lock lock(mu_);
    roomCv_.wait(lock, [&] { return closed_ || requests_.size() < kMaxPending; });
    if (closed_) return;
    requests_.push_back(std::move(request));
    readyCv_.notify_one();
  }

  // From the cache's watch: only the newest snapshot matters; an older one not yet taken is replaced.
  void pushSnapshot(std::shared_ptr<const Snapshot> snapshot) {
    if (!snapshot) return;
    std::lock_guard lock(mu_);
    snapshot_ = std::move(snapshot);
    watched_ = true;
    readyCv_.notify_one();
  }

  // The snapshot read from the cache after the watch began. Once the watch has delivered one, the
  // watch will deliver every later one too, so this read (possibly older) must not replace it.
  void offerCurrent(std::shared_ptr<const Snapshot> snapshot) {
    if (!snapshot) return;
    std::lock_guard lock(mu_);
    if (watched_) return;
    snapshot_ = std::move(snapshot);
    readyCv_.notify_one();
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    readyCv_.notify_all();
    roomCv_.notify_all();
  }

  // Blocks until something arrived or the inbox closed.
  Batch take() {
    std::unique_lock lock(mu_);
    readyCv_.wait(lock, [&] { return closed_ || !requests_.empty() || snapshot_; });
    Batch b;
    b.closed = closed_;
    b.requests.assign(std::make_move_iterator(requests_.begin()), std::make_move_iterator(requests_.end()));
    requests_.clear();
    b.snapshot = std::move(snapshot_);
    snapshot_ = nullptr;
    roomCv_.notify_all();
    return b;
  }

 private:
  static constexpr size_t kMaxPending = 64;

  std::mutex mu_;  // guards everything below
  std::condition_variable readyCv_;
  std::condition_variable roomCv_;
  std::deque<Request> requests_;
  std::shared_ptr<const Snapshot> snapshot_;
  bool watched_ = false;  // the watch has delivered a snapshot
  bool closed_ = false;
};

// Records what a request meant in the stream's ProxyStatus.
void reportOutcome(SnapshotCache& cache, uint64_t streamId, const RequestOutcome& outcome);

// How a node resolver's refusal ends the stream: NOT_FOUND for an unknown proxy, else
// INVALID_ARGUMENT.
grpc::Status refusal(const Status& status);

// Serves one stream until the proxy goes away, a write fails, or the server shuts down.
template <typename Protocol>
grpc::Status serveStream(SnapshotCache& cache, const NodeResolver& resolve, uint64_t streamId,
                         grpc::ServerContext* context,
                         grpc::ServerReaderWriter<typename Protocol::Response, typename Protocol::Request>* stream) {
  using Request = typename Protocol::Request;

  Request first;
  if (!stream->Read(&first)) return grpc::Status::OK;  // gone before asking for anything
  if (!first.has_node()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request of a stream must carry the node");
  }
  StatusOr<std::string> key = resolve(first.node());
  if (!key.ok()) return refusal(key.status());

  ProxyStatus status;
  status.key = *key;
  status.nodeId = first.node().id();
  status.streamId = streamId;
  status.delta = Protocol::kDelta;
  status.connectedAt = std::chrono::system_clock::now();
  cache.streamOpened(status);
  spdlog::debug("msg=\"proxy connected\" stream={} node=\"{}\" key=\"{}\" delta={}", streamId, status.nodeId,
                status.key, Protocol::kDelta);

  auto inbox = std::make_shared<Inbox<Request>>();
  // Watch before reading the current snapshot, so that no change falls between the two.
  SnapshotCache::WatchId watch =
      cache.watch(*key, [inbox](std::shared_ptr<const Snapshot> s) { inbox->pushSnapshot(std::move(s)); });
  inbox->offerCurrent(cache.snapshot(*key));
  inbox->pushRequest(std::move(first));

  std::thread writer([&] {
    Protocol protocol;
    while (true) {
      auto batch = inbox->take();
      if (batch.closed) break;
      for (const Request& r : batch.requests) reportOutcome(cache, streamId, protocol.handle(r));
      if (batch.snapshot) protocol.setSnapshot(std::move(batch.snapshot));
      bool ok = true;
      for (const auto& response : protocol.takeResponses()) {
        if (!(ok = stream->Write(response))) break;
      }
      if (!ok) {
        context->TryCancel();  // ends the reader's Read()
        break;
      }
    }
    inbox->close();  // the reader may be waiting for room
  });

  Request request;
  while (stream->Read(&request)) inbox->pushRequest(std::move(request));
  inbox->close();
  writer.join();
  cache.cancel(watch);
  cache.streamClosed(streamId);
  spdlog::debug("msg=\"proxy disconnected\" stream={}", streamId);
  return grpc::Status::OK;
}

}  // namespace meshd::xds
