// xds_load: N simulated Envoys on one ADS server (state of the world), for bench/xds_scale/run.sh.
//
// Each stream plays Envoy's part: CDS and LDS wildcard, then RDS for the route configs its listeners
// name and EDS for its EDS clusters; every response is ACKed at once (with the names it subscribes).
// Stream i connects as node id nodes[(offset + i) % nodes.size()], on its own channel (its own TCP
// connection, as separate proxies would have).
//
// Commands, one per line on stdin; each answer is one line of JSON on stdout:
//   stats    totals: streams open/ended, streams that have CDS+LDS (+RDS/EDS when subscribed), responses
//   mark     starts a measurement: per-stream counters since the mark are reset
//   report   per node id, since the mark: streams, streams pushed, pushes, bytes, first and last
//            response time, last time an ACK was written
//   quit     cancels every stream and exits
// Times are CLOCK_MONOTONIC nanoseconds (comparable across processes, and with Python's
// time.monotonic_ns()).
//
// usage: xds_load --server 127.0.0.1:18000 --nodes-file FILE [--streams N] [--offset K] [--rate PER_S]

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/service/discovery/v3/ads.grpc.pb.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr const char* kCluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr const char* kEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr const char* kListener = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr const char* kRoute = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

class Stream : public grpc::ClientBidiReactor<DiscoveryRequest, DiscoveryResponse> {
 public:
  Stream(std::shared_ptr<grpc::Channel> channel, std::string node)
      : channel_(std::move(channel)), stub_(AggregatedDiscoveryService::NewStub(channel_)), node_(std::move(node)) {}

  void start() {
    stub_->async()->StreamAggregatedResources(&context_, this);
    {
      std::lock_guard lock(mu_);
      started_ = true;
      queue(request(kCluster, "", ""));
      queue(request(kListener, "", ""));
    }
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    int64_t t = nowNs();
    const DiscoveryResponse& r = response_;
    size_t bytes = r.ByteSizeLong();
    std::lock_guard lock(mu_);
    ++responses_;
    bytes_ += bytes;
    lastNs_ = t;
    received_.insert(r.type_url());
    if (marked_) {
      ++sinceMark_.pushes;
      sinceMark_.bytes += bytes;
      if (sinceMark_.firstNs == 0) sinceMark_.firstNs = t;
      sinceMark_.lastNs = t;
    }
    lastNonce_[r.type_url()] = r.nonce();
    // What this response makes Envoy ask for next.
    std::set<std::string> eds, rds;
    bool follow = false;
    if (r.type_url() == kCluster) {
      follow = true;
      for (const auto& any : r.resources()) {
        envoy::config::cluster::v3::Cluster c;
        if (any.UnpackTo(&c) && c.type() == envoy::config::cluster::v3::Cluster::EDS) eds.insert(c.name());
      }
    } else if (r.type_url() == kListener) {
      follow = true;
      for (const auto& any : r.resources()) {
        envoy::config::listener::v3::Listener l;
        if (!any.UnpackTo(&l)) continue;
        for (const auto& chain : l.filter_chains()) {
          for (const auto& f : chain.filters()) {
            envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
            if (f.has_typed_config() && f.typed_config().UnpackTo(&hcm) && hcm.has_rds()) {
              rds.insert(hcm.rds().route_config_name());
            }
          }
        }
      }
    }
    queue(request(r.type_url(), r.version_info(), r.nonce()));  // the ACK
    if (follow) {
      const char* type = r.type_url() == kCluster ? kEndpoint : kRoute;
      std::set<std::string>& wanted = r.type_url() == kCluster ? eds : rds;
      if (wanted != names_[type]) {
        names_[type] = wanted;
        queue(request(type, lastVersion_[type], lastNonce_[type]));
      }
    }
    lastVersion_[r.type_url()] = r.version_info();
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    int64_t t = nowNs();
    std::lock_guard lock(mu_);
    // A request with a nonce answers a response: the ACK (or the subscription that follows it) has
    // left for the server, which is what "every proxy has ACKed" measures.
    if (ok && marked_ && !writes_.front().response_nonce().empty()) sinceMark_.ackedNs = t;
    writes_.pop_front();
    if (!ok) {
      writes_.clear();
      return;
    }
    if (!writes_.empty()) StartWrite(&writes_.front());
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(mu_);
    ended_ = true;
    endMessage_ = std::to_string(s.error_code()) + ": " + s.error_message();
  }

  // Whether Envoy would be done starting: CDS and LDS answered, and RDS/EDS when it asked for them.
  bool synced() {
    std::lock_guard lock(mu_);
    if (!received_.count(kCluster) || !received_.count(kListener)) return false;
    for (const char* t : {kEndpoint, kRoute}) {
      if (!names_[t].empty() && !received_.count(t)) return false;
    }
    return true;
  }

  struct SinceMark {
    uint64_t pushes = 0, bytes = 0;
    int64_t firstNs = 0, lastNs = 0, ackedNs = 0;
  };

  void mark() {
    std::lock_guard lock(mu_);
    marked_ = true;
    sinceMark_ = {};
  }

  SinceMark sinceMark() {
    std::lock_guard lock(mu_);
    return sinceMark_;
  }

  struct Totals {
    uint64_t responses, bytes;
    int64_t lastNs;
    bool ended;
    std::string endMessage;
  };
  Totals totals() {
    std::lock_guard lock(mu_);
    return {responses_, bytes_, lastNs_, ended_, endMessage_};
  }

  const std::string& node() const { return node_; }

 private:
  DiscoveryRequest request(const std::string& type, const std::string& version, const std::string& nonce) {
    DiscoveryRequest r;
    r.set_type_url(type);
    r.set_version_info(version);
    r.set_response_nonce(nonce);
    for (const auto& n : names_[type]) r.add_resource_names(n);
    if (first_) {
      r.mutable_node()->set_id(node_);
      r.mutable_node()->set_cluster("xds_load");
      first_ = false;
    }
    return r;
  }

  // Under mu_. One write at a time: the rest wait in order.
  void queue(DiscoveryRequest r) {
    writes_.push_back(std::move(r));
    if (writes_.size() == 1 && started_) StartWrite(&writes_.front());
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<AggregatedDiscoveryService::Stub> stub_;
  const std::string node_;
  grpc::ClientContext context_;
  DiscoveryResponse response_;
  bool started_ = false;  // under mu_

  std::recursive_mutex mu_;  // guards everything below (reactions may run inline)
  std::deque<DiscoveryRequest> writes_;
  bool first_ = true;
  std::map<std::string, std::set<std::string>> names_;
  std::map<std::string, std::string> lastNonce_, lastVersion_;
  std::set<std::string> received_;
  uint64_t responses_ = 0, bytes_ = 0;
  int64_t lastNs_ = 0;
  bool marked_ = false;
  SinceMark sinceMark_;
  bool ended_ = false;
  std::string endMessage_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string server, nodesFile;
  size_t streams = 1, offset = 0;
  double rate = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--server") server = v;
    else if (a == "--nodes-file") nodesFile = v;
    else if (a == "--streams") streams = std::stoul(v);
    else if (a == "--offset") offset = std::stoul(v);
    else if (a == "--rate") rate = std::stod(v);
    else {
      std::cerr << "xds_load: unknown flag " << a << "\n";
      return 2;
    }
  }
  std::vector<std::string> nodes;
  {
    std::ifstream in(nodesFile);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) nodes.push_back(line);
    }
  }
  if (server.empty() || nodes.empty()) {
    std::cerr << "usage: xds_load --server HOST:PORT --nodes-file FILE [--streams N] [--offset K] [--rate PER_S]\n";
    return 2;
  }

  std::vector<std::unique_ptr<Stream>> all;
  all.reserve(streams);
  std::mutex allMu;
  std::atomic<bool> stopping{false};
  // Streams open at `rate` per second, in the background, so commands are answered meanwhile.
  std::thread opener([&] {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < streams && !stopping; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
      auto s = std::make_unique<Stream>(channel, nodes[(offset + i) % nodes.size()]);
      Stream* raw = s.get();
      {
        std::lock_guard lock(allMu);
        all.push_back(std::move(s));
      }
      raw->start();
      auto due = t0 + std::chrono::duration<double>((i + 1) / rate);
      std::this_thread::sleep_until(due);
    }
  });

  auto snapshot = [&] {
    std::lock_guard lock(allMu);
    std::vector<Stream*> out;
    for (auto& s : all) out.push_back(s.get());
    return out;
  };

  for (std::string line; std::getline(std::cin, line);) {
    std::ostringstream out;
    if (line == "stats") {
      size_t open = 0, ended = 0, synced = 0;
      uint64_t responses = 0, bytes = 0;
      int64_t last = 0;
      std::map<std::string, size_t> endings;
      for (Stream* s : snapshot()) {
        auto t = s->totals();
        ++open;
        if (t.ended) {
          ++ended;
          ++endings[t.endMessage];
        }
        if (s->synced()) ++synced;
        responses += t.responses;
        bytes += t.bytes;
        last = std::max(last, t.lastNs);
      }
      out << "{\"streams\":" << streams << ",\"started\":" << open << ",\"ended\":" << ended
          << ",\"synced\":" << synced << ",\"responses\":" << responses << ",\"bytes\":" << bytes
          << ",\"last_response_ns\":" << last << ",\"endings\":{";
      bool first = true;
      for (const auto& [m, n] : endings) {
        out << (first ? "" : ",") << jsonString(m) << ":" << n;
        first = false;
      }
      out << "}}";
    } else if (line == "mark") {
      int64_t t = nowNs();
      for (Stream* s : snapshot()) s->mark();
      out << "{\"mark_ns\":" << t << "}";
    } else if (line == "report") {
      struct Node {
        uint64_t streams = 0, pushed = 0, pushes = 0, bytes = 0;
        int64_t firstNs = 0, lastNs = 0, ackedNs = 0;
      };
      std::map<std::string, Node> byNode;
      for (Stream* s : snapshot()) {
        auto m = s->sinceMark();
        Node& n = byNode[s->node()];
        ++n.streams;
        if (m.pushes) ++n.pushed;
        n.pushes += m.pushes;
        n.bytes += m.bytes;
        if (m.firstNs && (!n.firstNs || m.firstNs < n.firstNs)) n.firstNs = m.firstNs;
        n.lastNs = std::max(n.lastNs, m.lastNs);
        n.ackedNs = std::max(n.ackedNs, m.ackedNs);
      }
      out << "{\"nodes\":{";
      bool first = true;
      for (const auto& [name, n] : byNode) {
        out << (first ? "" : ",") << jsonString(name) << ":{\"streams\":" << n.streams << ",\"pushed\":" << n.pushed
            << ",\"pushes\":" << n.pushes << ",\"bytes\":" << n.bytes << ",\"first_ns\":" << n.firstNs
            << ",\"last_ns\":" << n.lastNs << ",\"acked_ns\":" << n.ackedNs << "}";
        first = false;
      }
      out << "}}";
    } else if (line == "quit") {
      break;
    } else {
      out << "{\"error\":" << jsonString("unknown command " + line) << "}";
    }
    std::cout << out.str() << std::endl;
  }
  stopping = true;
  opener.join();
  // Exit without tearing down each stream: the kernel closes the connections.
  std::cout.flush();
  std::_Exit(0);
}
