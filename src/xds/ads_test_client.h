#pragma once
// A real gRPC client of the ADS server for tests: a stream whose responses a background thread
// reads into a queue, so a test can wait for the next one with a deadline, or assert that none
// comes within a short window.

#include <envoy/service/discovery/v3/ads.grpc.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "xds/ads_server.h"
#include "xds/snapshot_cache.h"
#include "xds/test_resources.h"

namespace meshd::xds::testdata {

using namespace std::chrono_literals;

// How long a test waits for something that should come, and for something that should not.
inline constexpr auto kExpectWithin = 5s;
inline constexpr auto kQuietFor = 300ms;

template <typename Request, typename Response>
class TestStream {
 public:
  using Stream = grpc::ClientReaderWriterInterface<Request, Response>;
  using Open = std::function<std::unique_ptr<Stream>(grpc::ClientContext*)>;

  explicit TestStream(const Open& open) {
    context_.set_deadline(std::chrono::system_clock::now() + 30s);  // bounds a test gone wrong
    stream_ = open(&context_);
    reader_ = std::thread([this] {
      Response r;
      while (stream_->Read(&r)) {
        std::lock_guard lock(mu_);
        responses_.push_back(r);
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }

  ~TestStream() {
    context_.TryCancel();
    reader_.join();
    if (!finished_) stream_->Finish();
  }

  bool send(const Request& r) { return stream_->Write(r); }

  // The next response, or nullopt if none came within `timeout` or the stream ended.
  std::optional<Response> next(std::chrono::milliseconds timeout = kExpectWithin) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !responses_.empty() || ended_; });
    if (responses_.empty()) return std::nullopt;
    Response r = std::move(responses_.front());
    responses_.pop_front();
    return r;
  }

  // True when nothing arrives for kQuietFor.
  bool quiet() { return !next(std::chrono::duration_cast<std::chrono::milliseconds>(kQuietFor)).has_value(); }

  // Waits for the server to end the stream and returns its status.
  grpc::Status finish() {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kExpectWithin, [&] { return ended_; });
      if (!ended_) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the stream did not end");
    }
    finished_ = true;
    return stream_->Finish();
  }

  size_t pending() {
    std::lock_guard lock(mu_);
    return responses_.size();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  bool finished_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Response> responses_;
  bool ended_ = false;
};

using SotwStream = TestStream<envoy::service::discovery::v3::DiscoveryRequest,
                              envoy::service::discovery::v3::DiscoveryResponse>;
using DeltaStream = TestStream<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                               envoy::service::discovery::v3::DeltaDiscoveryResponse>;

using Stub = envoy::service::discovery::v3::AggregatedDiscoveryService::Stub;

inline std::unique_ptr<SotwStream> openSotw(Stub& stub) {
  return std::make_unique<SotwStream>([&](grpc::ClientContext* c) { return stub.StreamAggregatedResources(c); });
}

inline std::unique_ptr<DeltaStream> openDelta(Stub& stub) {
  return std::make_unique<DeltaStream>([&](grpc::ClientContext* c) { return stub.DeltaAggregatedResources(c); });
}

inline envoy::config::core::v3::Node node(const std::string& id) {
  envoy::config::core::v3::Node n;
  n.set_id(id);
  n.set_cluster("test");
  return n;
}

// A server on a free loopback port over `cache_`, and a client stub. Node "proxy" maps to key
// kKey, "other" to kOtherKey; an empty id is a bad request; any other id is not found.
class AdsTest : public ::testing::Test {
 protected:
  static constexpr const char* kKey = "mesh/m/virtualNode/proxy";
  static constexpr const char* kOtherKey = "mesh/m/virtualNode/other";

  void SetUp() override {
    server_ = std::make_unique<AdsServer>(cache_, [](const envoy::config::core::v3::Node& n) -> StatusOr<std::string> {
      if (n.id() == "proxy") return std::string(kKey);
      if (n.id() == "other") return std::string(kOtherKey);
      if (n.id().empty()) return badRequest("the node has no id");
      return notFound("no virtual node " + n.id());
    });
    StatusOr<int> port = server_->listen("127.0.0.1:0");
    ASSERT_TRUE(port.ok()) << port.status().message();
    ASSERT_GT(*port, 0);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(*port), grpc::InsecureChannelCredentials());
    stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  }

  void TearDown() override { server_->stop(); }

  // Polls `condition` (the server reports to the cache asynchronously) until it holds or the
  // deadline passes.
  template <typename Condition>
  bool eventually(Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + kExpectWithin;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  // The status of the only connected stream (a default one when there is none).
  ProxyStatus onlyProxy() {
    auto all = cache_.proxies();
    return all.size() == 1 ? all[0] : ProxyStatus{};
  }

  SnapshotCache cache_;
  std::unique_ptr<AdsServer> server_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace meshd::xds::testdata
