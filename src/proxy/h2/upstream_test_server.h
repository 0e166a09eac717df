#pragma once
// For the upstream HTTP/2 tests: a loopback h2c server made of ServerCodec, on an io_context and
// thread of its own. What it answers depends on the request's path:
//   /echo          200, the request body back, trailer x-length: its size
//   /slow/<ms>     200 "slow" after <ms> milliseconds (resets() tells whether the client gave up)
//   /reset         RST_STREAM(INTERNAL_ERROR) once the request head arrived
//   /refuse        RST_STREAM(REFUSED_STREAM) likewise
//   /goaway        200 "bye", then GOAWAY(NO_ERROR): the connection takes no new stream
//   /close         200 and part of a body, then the connection closes
//   /big/<n>       200 with <n> bytes, framed as the client's windows allow
//   /continue      100 Continue, then 200 "done"
//   /status/<code> <code> "status"
//   /grpc.health.v1.Health/Check  a gRPC reply: HealthCheckResponse{healthStatus()}, grpc-status 0,
//                  after healthDelay()
//   /grpc/<code>   a gRPC reply: 200, one empty message, trailers grpc-status <code>
//   /grpc-only/<code>  a trailers-only gRPC reply: 200 with grpc-status <code>, no body
//   anything else  200 "hello"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/h2/codec.h"
#include "proxy/io.h"
#include "proxy/signal.h"

namespace meshd::proxy::h2::testing {

class UpstreamTestServer {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit UpstreamTestServer(Settings settings = {}) : settings_(settings) {
    boost::asio::co_spawn(io_, accept(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~UpstreamTestServer() {
    io_.stop();
    thread_.join();
  }

  tcp::endpoint endpoint() const { return endpoint_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  // The most streams one connection had open at once.
  int maxConcurrentStreams() const { return maxConcurrent_; }
  // The request heads received, in order.
  std::vector<Headers> heads() const {
    std::lock_guard lock(mu_);
    return heads_;
  }
  // The ServingStatus /grpc.health.v1.Health/Check answers (1, SERVING, to begin with).
  void healthStatus(uint32_t s) { healthStatus_ = s; }
  // How long the health check's answer waits (0 to begin with).
  void healthDelay(int ms) { healthDelay_ = ms; }
  // The request trailers received, in order.
  std::vector<Headers> trailers() const {
    std::lock_guard lock(mu_);
    return trailers_;
  }
  // The codes of the RST_STREAM frames the client sent, in order.
  std::vector<ErrorCode> resets() const {
    std::lock_guard lock(mu_);
    return resets_;
  }

 private:
  struct Request {
    std::string path;
    std::string body;
    bool ended = false;
  };

  class Connection : public Callbacks, public std::enable_shared_from_this<Connection> {
   public:
    Connection(UpstreamTestServer& server, Socket socket)
        : server_(server), socket_(std::move(socket)), codec_(*this, server.settings_), writable_(socket_.get_executor()) {}

    Task<> run(std::shared_ptr<Connection> self) {
      boost::asio::co_spawn(socket_.get_executor(), write(self), boost::asio::detached);
      std::vector<char> buf(64 * 1024);
      for (;;) {
        boost::system::error_code ec;
        size_t n = co_await socket_.async_read_some(boost::asio::buffer(buf), into(ec));
        if (ec || !codec_.feed(std::string_view(buf.data(), n)).ok()) break;
        writable_.notify();
      }
      closing_ = true;
      writable_.notify();
    }

   private:
    Task<> write(std::shared_ptr<Connection> self) {
      std::string out;
      for (;;) {
        out.clear();
        codec_.drainOutput(out);
        if (!out.empty()) {
          boost::system::error_code ec;
          co_await boost::asio::async_write(socket_, boost::asio::buffer(out), into(ec));
          if (ec) break;
          continue;
        }
        if (closing_ || codec_.done()) break;
        co_await writable_.wait();
      }
      boost::system::error_code ignored;
      socket_.close(ignored);
    }

    // Runs `then` after `ms` on this connection's executor.
    template <typename F>
    void after(int ms, F then) {
      auto timer = std::make_shared<Timer>(socket_.get_executor(), std::chrono::milliseconds(ms));
      timer->async_wait([timer, self = shared_from_this(), then](boost::system::error_code) {
        then();
        self->writable_.notify();
      });
    }

    void text(StreamId id, const std::string& status, std::string_view body) {
      codec_.submitResponse(id, {{":status", status}}, false);
      codec_.submitData(id, body, true);
    }

    void respond(StreamId id, Request& r) {
      if (r.path == "/echo") {
        codec_.submitResponse(id, {{":status", "200"}, {"content-type", "application/octet-stream"}}, false);
        codec_.submitData(id, r.body, false);
        codec_.submitTrailers(id, {{"x-length", std::to_string(r.body.size())}});
      } else if (r.path.starts_with("/slow/")) {
        after(std::stoi(r.path.substr(6)), [this, id] { text(id, "200", "slow"); });
      } else if (r.path == "/goaway") {
        text(id, "200", "bye");
        codec_.goAway(ErrorCode::kNoError);
      } else if (r.path == "/close") {
        codec_.submitResponse(id, {{":status", "200"}}, false);
        codec_.submitData(id, "partial", false);
        closing_ = true;  // once that is written
      } else if (r.path.starts_with("/big/")) {
        codec_.submitResponse(id, {{":status", "200"}}, false);
        codec_.submitData(id, std::string(std::stoul(r.path.substr(5)), 'b'), true);
      } else if (r.path.starts_with("/status/")) {
        text(id, r.path.substr(8), "status");
      } else if (r.path == "/grpc.health.v1.Health/Check") {
        auto answer = [this, id] {
          // Not when the client gave up on it (reset the stream) meanwhile.
          if (!codec_.submitResponse(id, {{":status", "200"}, {"content-type", "application/grpc"}}, false)) return;
          uint32_t status = server_.healthStatus_;  // under 128: a one-byte varint
          codec_.submitData(id, std::string("\0\0\0\0\x02\x08", 6) + static_cast<char>(status), false);
          codec_.submitTrailers(id, {{"grpc-status", "0"}});
        };
        if (int ms = server_.healthDelay_; ms > 0) {
          after(ms, answer);
        } else {
          answer();
        }
      } else if (r.path.starts_with("/grpc/")) {
        codec_.submitResponse(id, {{":status", "200"}, {"content-type", "application/grpc"}}, false);
        codec_.submitData(id, std::string("\0\0\0\0\0", 5), false);
        codec_.submitTrailers(id, {{"grpc-status", r.path.substr(6)}});
      } else if (r.path.starts_with("/grpc-only/")) {
        codec_.submitResponse(id, {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", r.path.substr(11)}}, true);
      } else if (r.path == "/continue") {
        codec_.submitResponse(id, {{":status", "100"}}, false);
        text(id, "200", "done");
      } else {
        text(id, "200", "hello");
      }
    }

    void onHeaders(StreamId id, Headers headers, bool endStream) override {
      ++server_.requests_;
      Request& r = requests_[id];
      for (const auto& [n, v] : headers) {
        if (n == ":path") r.path = v;
      }
      {
        std::lock_guard lock(server_.mu_);
        server_.heads_.push_back(headers);
      }
      int open = static_cast<int>(codec_.activeStreams());
      if (open > server_.maxConcurrent_) server_.maxConcurrent_ = open;
      if (r.path == "/reset") codec_.resetStream(id, ErrorCode::kInternalError);
      if (r.path == "/refuse") codec_.resetStream(id, ErrorCode::kRefusedStream);
    }
    void onData(StreamId id, std::string_view data) override {
      requests_[id].body.append(data);
      codec_.consume(id, data.size());
    }
    void onTrailers(StreamId, Headers trailers) override {
      std::lock_guard lock(server_.mu_);
      server_.trailers_.push_back(std::move(trailers));
    }
    void onEndStream(StreamId id) override {
      Request& r = requests_[id];
      r.ended = true;
      if (r.path != "/reset" && r.path != "/refuse") respond(id, r);
    }
    void onReset(StreamId id, ErrorCode code) override {
      requests_.erase(id);
      std::lock_guard lock(server_.mu_);
      server_.resets_.push_back(code);
    }
    void onClose(StreamId id) override { requests_.erase(id); }
    void onGoAway(StreamId, ErrorCode, std::string_view) override {}

    UpstreamTestServer& server_;
    Socket socket_;
    ServerCodec codec_;
    Signal writable_;
    bool closing_ = false;
    std::map<StreamId, Request> requests_;
  };

  Task<> accept() {
    for (;;) {
      boost::system::error_code ec;
      Socket s = co_await acceptor_.async_accept(into(ec));
      if (ec) co_return;
      // Not inherited by a client the test runs (nghttp, by popen): a copy of the descriptor in
      // that process would keep the connection open, and its FIN unsent, after this side closes.
      ::fcntl(s.native_handle(), F_SETFD, FD_CLOEXEC);
      ++connections_;
      auto c = std::make_shared<Connection>(*this, std::move(s));
      boost::asio::co_spawn(io_, c->run(c), boost::asio::detached);
    }
  }

  const Settings settings_;
  boost::asio::io_context io_{1};
  Acceptor acceptor_{io_.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
  const tcp::endpoint endpoint_ = acceptor_.local_endpoint();
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> maxConcurrent_{0};
  std::atomic<uint32_t> healthStatus_{1};
  std::atomic<int> healthDelay_{0};
  mutable std::mutex mu_;
  std::vector<Headers> heads_;     // guarded by mu_
  std::vector<Headers> trailers_;  // guarded by mu_
  std::vector<ErrorCode> resets_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace meshd::proxy::h2::testing
