#pragma once
// meshd's authoritative DNS server: UDP and TCP (RFC 7766: length-framed, several queries per
// connection) on one port, answering from the ZoneSet last given to setZones(). Until then there are
// no zones and every question is REFUSED.
//
// Thread-safety: setZones() and zones() may be called from any thread at any time; each query is
// answered from the snapshot current when it arrives. listen(), start() and stop() belong to the
// owner's thread and go in that order, once each; the destructor stops.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "dns/zone.h"

namespace meshd::dns {

struct DnsServerOptions {
  // A TCP connection with no complete query (or response written) for this long is closed.
  std::chrono::milliseconds tcpIdleTimeout{10000};
  // Connections beyond this many are closed as soon as accepted.
  size_t maxTcpConnections = 256;
};

struct BoundPorts {
  uint16_t udp = 0;
  uint16_t tcp = 0;
};

class DnsServer {
 public:
  explicit DnsServer(DnsServerOptions options = {});
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds UDP and TCP on host:port; port 0 picks one that is free for both. Returns the ports.
  StatusOr<BoundPorts> listen(const std::string& host = "127.0.0.1", uint16_t port = 0);
  // Serves on `threads` threads until stop().
  void start(int threads = 1);
  void stop();

  void setZones(std::shared_ptr<const ZoneSet> zones);
  std::shared_ptr<const ZoneSet> zones() const;

 private:
  struct Rep;  // the sockets and the event loop, kept out of this header
  std::unique_ptr<Rep> rep_;
};

}  // namespace meshd::dns
