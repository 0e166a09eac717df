#include "dns/server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dns/responder.h"

namespace meshd::dns {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using ErrorCode = boost::system::error_code;

// A query is one question and an OPT record, a few hundred bytes at most; a client announcing more
// is not sending a query we would answer, and is not worth the buffer.
constexpr size_t kMaxTcpQuery = 16384;
// With port 0 the UDP port is picked first; TCP may find it taken, so a few ports are tried.
constexpr int kPortAttempts = 32;

// What the sockets' handlers share, on any of the server's threads.
class Serving {
 public:
  explicit Serving(DnsServerOptions options) : options(options) {}

  // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's version trips ThreadSanitizer,
  // and the lock is held only for a reference-count increment.
  std::shared_ptr<const ZoneSet> zones() const {
    std::lock_guard lock(mu_);
    return zones_;
  }
  void setZones(std::shared_ptr<const ZoneSet> zones) {
    {
      std::lock_guard lock(mu_);
      zones_.swap(zones);
    }
    // `zones` now holds the old snapshot; if that was its last reference, it is freed unlocked.
  }

  const DnsServerOptions options;
  std::atomic<size_t> tcpConnections{0};

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ZoneSet> zones_ = std::make_shared<const ZoneSet>();  // guarded by mu_
};

// Never lets an exception (only std::bad_alloc is possible) unwind into the event loop.
std::vector<uint8_t> answer(const Serving& serving, std::span<const uint8_t> request, Transport transport) {
  try {
    std::shared_ptr<const ZoneSet> zones = serving.zones();
    return respond(*zones, request, transport);
  } catch (const std::exception& e) {
    spdlog::error("msg=\"dns query failed\" error=\"{}\"", e.what());
    return {};
  }
}

// One TCP connection: read a length-prefixed query, write the length-prefixed answer, repeat. Runs
// on its socket's strand, so its handlers never overlap; owned by the handlers it has pending.
class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(tcp::socket socket, Serving& serving)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), serving_(serving) {
    ++serving_.tcpConnections;
  }
  ~TcpSession() { --serving_.tcpConnections; }

  void start() { readLength(); }

 private:
  void readLength() {
    armTimer();
    asio::async_read(socket_, asio::buffer(length_),
                     [self = shared_from_this()](ErrorCode ec, size_t) { self->onLength(ec); });
  }

  void onLength(ErrorCode ec) {
    size_t length = static_cast<size_t>(length_[0]) << 8 | length_[1];
    if (ec || length == 0 || length > kMaxTcpQuery) return close();
    query_.resize(length);
    asio::async_read(socket_, asio::buffer(query_),
                     [self = shared_from_this()](ErrorCode ec, size_t) { self->onQuery(ec); });
  }

  void onQuery(ErrorCode ec) {
    if (ec) return close();
    std::vector<uint8_t> response = answer(serving_, query_, Transport::kTcp);
    if (response.empty()) return close();  // nothing to say to a peer that sends responses
    out_.resize(2 + response.size());
    out_[0] = static_cast<uint8_t>(response.size() >> 8);
    out_[1] = static_cast<uint8_t>(response.size());
    std::copy(response.begin(), response.end(), out_.begin() + 2);
    armTimer();
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](ErrorCode ec, size_t) {
      if (ec) return self->close();
      self->readLength();
    });
  }

  // The idle timeout covers a whole query (length and body) and a whole response, so a peer that
  // trickles bytes or stops reading is cut off as surely as a silent one.
  void armTimer() {
    timer_.expires_after(serving_.options.tcpIdleTimeout);
    timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
      // A re-arm after expiry cannot cancel a handler already queued: check the deadline itself.
      if (!ec && self->timer_.expiry() <= std::chrono::steady_clock::now()) self->close();
    });
  }

  void close() {
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Serving& serving_;
  uint8_t length_[2] = {0, 0};
  std::vector<uint8_t> query_;
  std::vector<uint8_t> out_;
};

}  // namespace

struct DnsServer::Rep {
  explicit Rep(DnsServerOptions options) : serving(options) {}

  void receive() {
    udpSocket->async_receive_from(asio::buffer(udpBuffer), udpPeer, [this](ErrorCode ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        std::vector<uint8_t> response = answer(serving, std::span(udpBuffer.data(), n), Transport::kUdp);
        // Non-blocking: when the send buffer is full the response is dropped, as the network might.
        ErrorCode ignored;
        if (!response.empty()) udpSocket->send_to(asio::buffer(response), udpPeer, 0, ignored);
      }
      receive();
    });
  }

  void accept() {
    acceptor->async_accept(asio::make_strand(io), [this](ErrorCode ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors, say: retrying at once would spin, so pause before accepting again.
        acceptRetry.expires_after(std::chrono::milliseconds(100));
        acceptRetry.async_wait([this](ErrorCode timerEc) {
          if (timerEc != asio::error::operation_aborted) accept();
        });
        return;
      }
      if (serving.tcpConnections.load() < serving.options.maxTcpConnections) {
        std::make_shared<TcpSession>(std::move(socket), serving)->start();
      } else {
        socket.close(ec);
      }
      accept();
    });
  }

  // Sessions refer to `serving` until io's destructor destroys their pending handlers, so it is
  // declared before io and outlives it.
  Serving serving;
  asio::io_context io;
  std::optional<udp::socket> udpSocket;
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer acceptRetry{io};
  std::vector<uint8_t> udpBuffer = std::vector<uint8_t>(65536);
  udp::endpoint udpPeer;
  std::vector<std::thread> threads;
};

DnsServer::DnsServer(DnsServerOptions options) : rep_(std::make_unique<Rep>(options)) {}

DnsServer::~DnsServer() { stop(); }

StatusOr<BoundPorts> DnsServer::listen(const std::string& host, uint16_t port) {
  ErrorCode ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return badRequest("invalid DNS listen address '" + host + "'");
  auto failed = [&](const char* what) {
    return internalError(std::string("cannot ") + what + " DNS on " + host + ":" + std::to_string(port) + ": " +
                         ec.message());
  };
  for (int attempt = 0; attempt < (port == 0 ? kPortAttempts : 1); ++attempt) {
    udp::socket u(rep_->io);
    u.open(udp::endpoint(addr, port).protocol(), ec);
    if (!ec) u.bind(udp::endpoint(addr, port), ec);
    if (!ec) u.non_blocking(true, ec);
    if (ec) return failed("bind UDP");
    uint16_t chosen = u.local_endpoint().port();
    tcp::acceptor a(rep_->io);
    tcp::endpoint ep(addr, chosen);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec == asio::error::address_in_use && port == 0) continue;
    if (ec) return failed("listen TCP");
    rep_->udpSocket.emplace(std::move(u));
    rep_->acceptor.emplace(std::move(a));
    return BoundPorts{chosen, chosen};
  }
  return internalError("no port free for both UDP and TCP on " + host);
}

void DnsServer::start(int threads) {
  if (!rep_->udpSocket || !rep_->threads.empty()) return;
  rep_->receive();
  rep_->accept();
  for (int i = 0; i < std::max(threads, 1); ++i) rep_->threads.emplace_back([this] { rep_->io.run(); });
}

void DnsServer::stop() {
  rep_->io.stop();
  for (auto& t : rep_->threads) t.join();
  rep_->threads.clear();
  ErrorCode ignored;
  if (rep_->udpSocket) rep_->udpSocket->close(ignored);
  if (rep_->acceptor) rep_->acceptor->close(ignored);
}

void DnsServer::setZones(std::shared_ptr<const ZoneSet> zones) {
  if (!zones) zones = std::make_shared<const ZoneSet>();
  rep_->serving.setZones(std::move(zones));
}

std::shared_ptr<const ZoneSet> DnsServer::zones() const { return rep_->serving.zones(); }

}  // namespace meshd::dns
