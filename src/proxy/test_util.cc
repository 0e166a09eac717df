#include "proxy/test_util.h"

#include <arpa/inet.h>
#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>
#include <set>
#include <mutex>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace meshd::proxy::testing {

namespace {

int bindLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 64);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// The ports freePort() handed out. The kernel may give a port just closed to the next bind(0), so
// without this two freePort() calls, or freePort() and a server of ours, could get the same one (a
// TCP proxy test then proxied to itself).
std::mutex handedOutMu;
std::set<int> handedOut;

// A listening loopback socket on a port freePort() did not hand out, and that port.
int listenLoopback(int* port) {
  std::vector<int> taken;  // held until another port comes, so bind(0) cannot give them again
  int fd = bindLoopback(port);
  for (;;) {
    std::lock_guard lock(handedOutMu);
    if (!handedOut.count(*port)) break;
    taken.push_back(fd);
    fd = bindLoopback(port);
  }
  for (int t : taken) ::close(t);
  return fd;
}

}  // namespace

int freePort() {
  int port = 0;
  int fd = listenLoopback(&port);
  {
    std::lock_guard lock(handedOutMu);
    handedOut.insert(port);
  }
  ::close(fd);
  return port;
}

HttpReply httpGet(const std::string& host, int port, const std::string& target, const std::string& hostHeader,
                  std::chrono::milliseconds timeout) {
  HttpReply out;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return out;
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nhost: " + hostHeader + "\r\nconnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string in;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos || in.size() < 12) return out;
  out.head = in.substr(0, end + 2);
  out.body = in.substr(end + 4);
  out.status = std::atoi(in.c_str() + 9);
  return out;
}

KeepAliveClient::KeepAliveClient(const std::string& host, int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

KeepAliveClient::~KeepAliveClient() {
  if (fd_ >= 0) ::close(fd_);
}

void KeepAliveClient::send(const std::string& target, const std::string& hostHeader) {
  std::string req = "GET " + target + " HTTP/1.1\r\nhost: " + hostHeader + "\r\n\r\n";
  if (fd_ >= 0) ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
}

void KeepAliveClient::sendRaw(const std::string& bytes) {
  if (fd_ >= 0) ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

HttpReply KeepAliveClient::get(const std::string& target, const std::string& hostHeader) {
  send(target, hostHeader);
  return read();
}

HttpReply KeepAliveClient::read() {
  HttpReply out;
  char buf[4096];
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = fd_ < 0 ? -1 : ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return out;
    pending_.append(buf, static_cast<size_t>(n));
  }
  out.head = pending_.substr(0, end + 2);
  size_t length = 0;
  if (auto at = out.head.find("content-length: "); at != std::string::npos) length = std::stoul(out.head.substr(at + 16));
  while (pending_.size() < end + 4 + length) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return out;
    pending_.append(buf, static_cast<size_t>(n));
  }
  out.body = pending_.substr(end + 4, length);
  out.status = std::atoi(pending_.c_str() + 9);
  pending_.erase(0, end + 4 + length);
  return out;
}

bool KeepAliveClient::closedWithin(std::chrono::milliseconds within) {
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(within.count())) <= 0) return false;
  char c;
  return ::recv(fd_, &c, 1, MSG_DONTWAIT) == 0;
}

AcceptLoop::AcceptLoop(std::function<void(int fd)> serve) {
  listenFd_ = listenLoopback(&port_);
  thread_ = std::thread([this, serve = std::move(serve)] {
    while (!stopping_) {
      pollfd p{listenFd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) connections_.emplace_back([serve, fd] { serve(fd); });
    }
  });
}

AcceptLoop::~AcceptLoop() {
  stopping_ = true;
  thread_.join();
  for (auto& t : connections_) t.join();
  ::close(listenFd_);
}

Upstream::Upstream(std::string name, int status, std::chrono::milliseconds delay, bool keepAlive)
    : name_(std::move(name)), status_(status), delay_(delay), keepAlive_(keepAlive) {}

void Upstream::serve(int fd) {
  ++connections_count_;
  timeval tv{0, 200000};  // lets a kept-alive connection notice loop_.stopping()
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[4096];
  for (bool open = true; open;) {
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || loop_.stopping() || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        open = false;
        break;
      }
    }
    if (!open) break;
    size_t end = in.find("\r\n\r\n") + 4;
    std::string head = in.substr(0, end);
    in.erase(0, end);
    open = answer(fd, head) && keepAlive_;
  }
  ::close(fd);
}

std::string Upstream::lastHead() {
  std::lock_guard lock(mu_);
  return lastHead_;
}

bool Upstream::answer(int fd, const std::string& head) {
  {
    std::lock_guard lock(mu_);
    lastHead_ = head;
  }
  ++requests_;
  std::string target = head.substr(4, head.find(' ', 4) - 4);
  std::string host;
  for (const char* h : {"\r\nhost: ", "\r\nHost: "}) {
    size_t at = head.find(h);
    if (at != std::string::npos) host = head.substr(at + 8, head.find("\r\n", at + 2) - at - 8);
  }
  auto until = std::chrono::steady_clock::now() + delay_;
  while (!loop_.stopping() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string body = name_ + " " + target + " host=" + host;
  std::string out = "HTTP/1.1 " + std::to_string(status_) + " X\r\ncontent-length: " + std::to_string(body.size()) +
                    "\r\nx-upstream: " + name_ + (keepAlive_ ? "" : "\r\nconnection: close") + "\r\n\r\n" + body;
  return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
}

std::pair<std::string, std::chrono::steady_clock::duration> readToClose(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto start = std::chrono::steady_clock::now();
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
  return {got, std::chrono::steady_clock::now() - start};
}

void sendAll(int fd, const std::string& data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

int connectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string StreamingUpstream::lastBody() {
  std::lock_guard lock(mu_);
  return lastBody_;
}

std::string StreamingUpstream::lastHead() {
  std::lock_guard lock(mu_);
  return lastHead_;
}

std::chrono::steady_clock::time_point StreamingUpstream::firstBodyByteAt() {
  std::lock_guard lock(mu_);
  return firstByte_;
}

std::chrono::steady_clock::time_point StreamingUpstream::finishedAt() {
  std::lock_guard lock(mu_);
  return finished_;
}

void StreamingUpstream::serve(int fd) {
  timeval tv{0, 200000};  // lets a kept-alive connection notice loop_.stopping()
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[65536];
  // More bytes into `in`; false when the connection is done.
  auto more = [&] {
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n == 0 || loop_.stopping() || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    }
  };
  for (;;) {
    while (in.find("\r\n\r\n") == std::string::npos) {
      if (!more()) return (void)::close(fd);
    }
    size_t end = in.find("\r\n\r\n") + 4;
    std::string head = in.substr(0, end);
    in.erase(0, end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    {
      std::lock_guard lock(mu_);
      lastHead_ = head;
    }
    std::string body;
    auto noteFirstByte = [&] {
      std::lock_guard lock(mu_);
      if (body.empty()) firstByte_ = std::chrono::steady_clock::now();
    };
    if (head.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {  // chunk size line, data, CRLF; "0" ends the body (no trailers expected)
        size_t line;
        while ((line = in.find("\r\n")) == std::string::npos) {
          if (!more()) return (void)::close(fd);
        }
        size_t size = std::stoul(in.substr(0, line), nullptr, 16);
        while (in.size() < line + 2 + size + 2) {
          if (!more()) return (void)::close(fd);
        }
        if (size > 0) noteFirstByte();
        body += in.substr(line + 2, size);
        in.erase(0, line + 2 + size + 2);
        if (size == 0) break;
      }
    } else if (size_t at = head.find("content-length: "); at != std::string::npos) {
      size_t length = std::stoul(head.substr(at + 16));
      while (body.size() < length) {
        if (in.empty() && !more()) return (void)::close(fd);
        size_t n = std::min(length - body.size(), in.size());
        if (n > 0) noteFirstByte();
        body += in.substr(0, n);
        in.erase(0, n);
      }
    }
    {
      std::lock_guard lock(mu_);
      lastBody_ = body;
      finished_ = {};
    }
    ++requests_;
    std::string status = "HTTP/1.1 " + std::to_string(o_.status) + " X\r\n";
    bool ok;
    bool isHead = head.rfind("head ", 0) == 0;  // a HEAD response has no body, whatever it announces
    if (o_.contentLength > 0) {
      std::string out = status + "content-length: " + std::to_string(o_.contentLength) + "\r\n\r\n";
      ok = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
      std::string piece(1 << 20, 'x');
      for (uint64_t left = isHead ? 0 : o_.contentLength; ok && left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, piece.size()));
        ok = ::send(fd, piece.data(), n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
        left -= n;
      }
    } else {
      std::string out = status + "transfer-encoding: chunked\r\n\r\n";
      ok = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
      for (int i = 0; ok && i < o_.chunks; ++i) {
        if (i > 0) std::this_thread::sleep_for(o_.interval);
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", o_.chunkSize);
        std::string chunk = size + std::string(o_.chunkSize, static_cast<char>('a' + i % 26)) + "\r\n";
        if (i + 1 == o_.chunks) chunk += "0\r\n\r\n";
        ok = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(chunk.size());
      }
      if (ok && o_.chunks == 0) ok = ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL) == 5;
    }
    {
      std::lock_guard lock(mu_);
      finished_ = std::chrono::steady_clock::now();
    }
    if (!ok) return (void)::close(fd);
  }
}

envoy::config::cluster::v3::Cluster staticCluster(const std::string& name, const std::vector<int>& ports, int connectTimeoutMs) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::STATIC);
  c.mutable_connect_timeout()->set_nanos(connectTimeoutMs % 1000 * 1000000);
  c.mutable_connect_timeout()->set_seconds(connectTimeoutMs / 1000);
  auto* cla = c.mutable_load_assignment();
  cla->set_cluster_name(name);
  auto* l = cla->add_endpoints();
  for (int p : ports) {
    auto* sa = l->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
    sa->set_address("127.0.0.1");
    sa->set_port_value(static_cast<uint32_t>(p));
  }
  return c;
}

// A STATIC cluster whose hosts speak HTTP/2 (http2_protocol_options), as meshd writes for http2 and grpc.
envoy::config::cluster::v3::Cluster http2Cluster(const std::string& name, int port) {
  auto c = staticCluster(name, {port});
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions options;
  options.mutable_explicit_http_config()->mutable_http2_protocol_options();
  (*c.mutable_typed_extension_protocol_options())["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].PackFrom(options);
  return c;
}

envoy::config::cluster::v3::Cluster edsCluster(const std::string& name) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
  c.mutable_eds_cluster_config()->set_service_name(name);
  return c;
}

namespace {

envoy::config::listener::v3::Listener listenerOn(const std::string& name, int port) {
  envoy::config::listener::v3::Listener l;
  l.set_name(name);
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address("127.0.0.1");
  sa->set_port_value(static_cast<uint32_t>(port));
  return l;
}

}  // namespace

envoy::config::listener::v3::Listener httpListener(const std::string& name, int port, const std::string& routeConfig) {
  auto l = listenerOn(name, port);
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  m.set_stat_prefix("ingress");
  m.mutable_rds()->set_route_config_name(routeConfig);
  m.mutable_rds()->mutable_config_source()->mutable_ads();
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("envoy.filters.network.http_connection_manager");
  f->mutable_typed_config()->PackFrom(m);
  return l;
}

envoy::config::listener::v3::Listener tcpListener(const std::string& name, int port, const std::string& cluster) {
  auto l = listenerOn(name, port);
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  t.set_stat_prefix("tcp");
  t.set_cluster(cluster);
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("envoy.filters.network.tcp_proxy");
  f->mutable_typed_config()->PackFrom(t);
  return l;
}

envoy::config::listener::v3::Listener withAccessLog(envoy::config::listener::v3::Listener l, const std::string& path,
                                                    const std::string& format) {
  envoy::extensions::access_loggers::file::v3::FileAccessLog file;
  file.set_path(path);
  if (!format.empty()) file.mutable_log_format()->mutable_text_format_source()->set_inline_string(format);
  auto* config = l.mutable_filter_chains(0)->mutable_filters(0)->mutable_typed_config();
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager m;
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  if (config->UnpackTo(&m)) {
    m.add_access_log()->mutable_typed_config()->PackFrom(file);
    config->PackFrom(m);
  } else if (config->UnpackTo(&t)) {
    t.add_access_log()->mutable_typed_config()->PackFrom(file);
    config->PackFrom(t);
  }
  return l;
}

envoy::config::route::v3::RouteConfiguration routeConfig(const std::string& name, const std::string& routesText) {
  envoy::config::route::v3::RouteConfiguration rc;
  std::string text = "name: \"" + name + "\" virtual_hosts { name: \"all\" domains: \"*\" " + routesText + " }";
  google::protobuf::TextFormat::ParseFromString(text, &rc);
  return rc;
}

}  // namespace meshd::proxy::testing
