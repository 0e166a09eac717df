#pragma once
// Test helpers for meshproxy: blocking loopback HTTP client and upstream servers, and builders for
// the Envoy resources meshd sends. Test code only.

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/config/route/v3/route.pb.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace meshd::proxy::testing {

// A port the kernel said was free a moment ago (listeners in configs need a fixed number).
int freePort();

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers, as received
  std::string body;
};

// One GET (connection: close) to host:port; status 0 when the connection failed.
HttpReply httpGet(const std::string& host, int port, const std::string& target, const std::string& hostHeader = "svc",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A loopback listener serving each accepted connection on a thread of its own. The destructor stops
// accepting and joins the connections (whose serve function watches stopping()). Owners declare it
// last, so that it goes first.
class AcceptLoop {
 public:
  explicit AcceptLoop(std::function<void(int fd)> serve);
  ~AcceptLoop();
  int port() const { return port_; }
  bool stopping() const { return stopping_; }

 private:
  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::thread> connections_;
};

// One kept-alive connection, for tests about what happens between requests.
class KeepAliveClient {
 public:
  KeepAliveClient(const std::string& host, int port);
  ~KeepAliveClient();
  // Sends a keep-alive GET; get() then reads its reply (bounded by content-length).
  void send(const std::string& target, const std::string& hostHeader = "svc");
  // Sends bytes as they are (a request the test builds itself).
  void sendRaw(const std::string& bytes);
  HttpReply get(const std::string& target, const std::string& hostHeader = "svc");
  HttpReply read();
  // True when the peer closes the connection within `within` (and nothing else arrives).
  bool closedWithin(std::chrono::milliseconds within);

 private:
  int fd_ = -1;
  std::string pending_;
};

// A loopback HTTP/1.1 upstream: answers every request with `status` and a body
// "<name> <target> host=<Host header>" after `delay`. Closes the connection after each response
// unless `keepAlive`.
class Upstream {
 public:
  Upstream(std::string name, int status = 200, std::chrono::milliseconds delay = std::chrono::milliseconds(0),
           bool keepAlive = false);
  int port() const { return loop_.port(); }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_count_.load(); }
  std::string lastHead();  // the last request's head, as received

 private:
  void serve(int fd);
  bool answer(int fd, const std::string& head);
  std::mutex mu_;
  std::string lastHead_;  // guarded by mu_
  std::string name_;
  int status_;
  std::chrono::milliseconds delay_;
  bool keepAlive_;
  std::atomic<int> connections_count_{0};
  std::atomic<int> requests_{0};
  AcceptLoop loop_{[this](int fd) { serve(fd); }};
};

// A loopback socket connected to port; -1 when the connection failed. The caller closes it.
int connectLoopback(int port);

// Sends all of `data` on `fd` in one send (a test failure otherwise).
void sendAll(int fd, const std::string& data);

// Everything `fd` receives until the peer closes (or 10 s pass), and how long that took.
std::pair<std::string, std::chrono::steady_clock::duration> readToClose(int fd);

// A loopback HTTP/1.1 upstream for streaming: reads each request's body as it arrives (content-length
// or chunked), noting when its first byte came, then answers `status` with either `chunks` chunks of
// `chunkSize` bytes ('a', 'b', ...), `interval` apart, or (when `contentLength` > 0) a content-length
// body of that many 'x' bytes written in 1 MiB pieces. Keeps connections alive.
class StreamingUpstream {
 public:
  struct Options {
    int status = 200;
    int chunks = 3;
    size_t chunkSize = 5;
    std::chrono::milliseconds interval{300};
    uint64_t contentLength = 0;
  };
  explicit StreamingUpstream(Options o) : o_(o) {}
  int port() const { return loop_.port(); }
  int requests() const { return requests_.load(); }
  // The last request's body (chunk framing removed) and when its first byte arrived; when the
  // last response's last byte was sent (time_point{} until then).
  std::string lastBody();
  std::string lastHead();  // the last request's head, lowercased
  std::chrono::steady_clock::time_point firstBodyByteAt();
  std::chrono::steady_clock::time_point finishedAt();

 private:
  void serve(int fd);
  Options o_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string lastBody_, lastHead_;                       // guarded by mu_
  std::chrono::steady_clock::time_point firstByte_, finished_;  // guarded by mu_
  AcceptLoop loop_{[this](int fd) { serve(fd); }};
};

envoy::config::cluster::v3::Cluster staticCluster(const std::string& name, const std::vector<int>& ports,
                                                  int connectTimeoutMs = 1000);
envoy::config::cluster::v3::Cluster http2Cluster(const std::string& name, int port);
envoy::config::cluster::v3::Cluster edsCluster(const std::string& name);
envoy::config::listener::v3::Listener httpListener(const std::string& name, int port, const std::string& routeConfig);
envoy::config::listener::v3::Listener tcpListener(const std::string& name, int port, const std::string& cluster);
// `l` (from httpListener or tcpListener) with a file access log to `path` in `format` (empty:
// Envoy's default).
envoy::config::listener::v3::Listener withAccessLog(envoy::config::listener::v3::Listener l, const std::string& path,
                                                    const std::string& format);
// A route config with one virtual host ("*") whose routes are given in text format.
envoy::config::route::v3::RouteConfiguration routeConfig(const std::string& name, const std::string& routesText);

}  // namespace meshd::proxy::testing
