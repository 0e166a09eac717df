// The TCP proxy filter: connect to a host of the chain's cluster (for an ORIGINAL_DST cluster, where
// the downstream connection was headed) and copy bytes both ways; its access logs get one line per
// connection once both directions ended (as Envoy's: no HTTP fields, response code 0).
#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "proxy/access_log.h"
#include "proxy/load_balancer.h"
#include "proxy/original_dst.h"
#include "proxy/outlier_detector.h"
#include "proxy/send_now.h"
#include "proxy/sessions.h"
#include "proxy/timed_stream.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

namespace {

// One connection's log line, written when the last of its two directions ends (or at once when
// there is no upstream).
struct TcpLog {
  std::vector<std::shared_ptr<const AccessLog>> logs;
  RequestLog log;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int open = 2;

  void directionEnded() {
    if (--open == 0) write();
  }
  void write() {
    log.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    for (const auto& l : logs) l->write(log);
  }
};

// The tcp proxy's idle_timeout: when neither direction has moved a byte for that long, both
// connections close. Shared by the two pumps (one thread) and the watch that waits for it.
struct IdleWatch {
  IdleWatch(const Executor& ex, std::chrono::milliseconds timeout) : timer(ex), timeout(timeout) {}
  Timer timer;
  std::chrono::milliseconds timeout;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  int open = 2;  // directions still copying
  void ended() {
    if (--open == 0) timer.cancel();
  }
};

Task<void> watchIdle(std::shared_ptr<IdleWatch> idle, std::shared_ptr<Socket> a, std::shared_ptr<Socket> b,
                     std::shared_ptr<TcpStats> stats) {
  boost::system::error_code ec;
  while (idle->open > 0) {
    if (std::chrono::steady_clock::now() - idle->last >= idle->timeout) {
      if (stats) stats->idle_timeout++;
      a->close(ec);  // the pumps' reads and writes end with operation_aborted
      b->close(ec);
      co_return;
    }
    idle->timer.expires_at(idle->last + idle->timeout);
    co_await idle->timer.async_wait(into(ec));
  }
}

// Copies `from` to `to` until `from` ends, counting the bytes in `copied`, and in `read` as they
// are read or in `written` as they are written (stats kept alive by the pump's caller).
Task<void> pump(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to, std::shared_ptr<TcpLog> log,
                std::shared_ptr<IdleWatch> idle, uint64_t& copied, ShardedCounter* read, ShardedCounter* written) {
  std::array<char, 16384> buf;
  boost::system::error_code ec;
  for (;;) {
    size_t n = co_await from->async_read_some(boost::asio::buffer(buf), into(ec));
    if (ec) break;
    if (read) read->add(n);
    if (idle) idle->last = std::chrono::steady_clock::now();
    std::array<boost::asio::const_buffer, 1> out{boost::asio::buffer(buf.data(), n)};
    size_t sent = sendNow(to->native_handle(), out, ec);
    if (!ec && sent < n) co_await boost::asio::async_write(*to, boost::asio::buffer(buf.data() + sent, n - sent), into(ec));
    if (ec) break;
    if (idle) idle->last = std::chrono::steady_clock::now();
    copied += n;
    if (written) written->add(n);
  }
  to->shutdown(tcp::socket::shutdown_send, ec);
  if (log) log->directionEnded();
  if (idle) idle->ended();
}


}  // namespace

Task<void> serveTcp(Worker& worker, Socket socket, FilterChainView chain, tcp::endpoint downstreamLocal,
                    ListenerConnection tally) {
  ConfigPtr config = worker.config();
  std::shared_ptr<TcpLog> log;
  if (!chain.accessLogs.empty()) {
    log = std::make_shared<TcpLog>();
    log->logs = chain.accessLogs;
    log->log.start = std::chrono::system_clock::now();
    log->log.protocol.clear();  // not HTTP: "-"
    log->log.downstreamLocal = downstreamLocal;
    log->log.connectionId = nextConnectionId();
    log->log.filterChainName = chain.name;
    log->log.type = "TcpConnectionEnd";
    boost::system::error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    if (!ignored) log->log.downstreamRemote = endpointText(remote);
  }
  // No upstream connection: the log line says why, now.
  auto refuse = [&log](const char* flag) {
    if (!log) return;
    log->log.addFlag(flag);
    log->write();
  };
  std::string_view name = pickWeighted(chain.tcpClusters, worker.random());
  std::shared_ptr<TcpStats> stats = chain.tcpStats;
  if (stats) stats->downstream_cx_total++;
  auto it = config->clusters.find(name);
  if (it == config->clusters.end()) {
    if (stats) stats->downstream_cx_no_route++;
    refuse("NC");
    co_return;
  }
  const ClusterView& c = *it->second;
  if (log) log->log.upstreamCluster = c.name;
  // As Envoy's tcp_proxy: at the cluster's max_connections the connection is closed (UO).
  if (c.stats->upstream_cx_active.load(std::memory_order_relaxed) >= c.breakers.maxConnections) {
    c.stats->upstream_cx_overflow++;
    refuse("UO");
    co_return;
  }
  Host originalDst;
  const Host* h = c.originalDst ? useOriginalDst(c, downstreamLocal, originalDst) : pickHost(c, worker.roundRobin(c.name));
  if (!h) {
    c.stats->upstream_cx_none_healthy++;
    refuse("UH");
    co_return;
  }
  if (log) log->log.upstreamHost = endpointText(h->endpoint);
  UpstreamPool::Slot slot(ActiveConnection(c.stats, h->stats), nullptr);  // counts toward max_connections from here
  TimedStream up(socket.get_executor());
  up.expiresAfter(c.connectTimeout);
  boost::system::error_code ec;
  c.stats->upstream_cx_total++;
  if (h->stats) h->stats->cx_total++;
  co_await up.async_connect(h->endpoint, into(ec));
  // As Envoy's tcp_proxy, outlier detection counts the connect: a connection as a 200
  // (LocalOriginConnectSuccessFinal), a refusal or reset as a 503 (LocalOriginConnectFailed), a
  // connect timeout as a 504 (LocalOriginTimeout).
  bool timedOut = ec == boost::beast::error::timeout;
  if (uint32_t reached = countForOutlierDetection(c, *h, timedOut ? 504 : ec ? 503 : 200)) {
    worker.reportOutlier(c.name, h->key(), reached);
  }
  if (ec) {
    c.stats->upstream_cx_connect_fail++;
    if (timedOut) c.stats->upstream_cx_connect_timeout++;
    if (h->stats) h->stats->cx_connect_fail++;
    if (log && !timedOut) log->log.transportFailure = connectFailureReason(ec, h->endpoint);
    refuse("UF");
    co_return;
  }
  up.expiresNever();
  auto down = std::make_shared<Socket>(std::move(socket));
  // The slot goes with the upstream socket, once both directions are done with it.
  auto held = std::make_shared<std::pair<Socket, UpstreamPool::Slot>>(up.release(), std::move(slot));
  std::shared_ptr<Socket> upstream(held, &held->first);
  // The byte counts live in the log (or, without one, in this frame and the spawned pump's state).
  auto counts = log ? std::shared_ptr<RequestLog>(log, &log->log) : std::make_shared<RequestLog>();
  std::shared_ptr<IdleWatch> idle;
  if (chain.tcpIdleTimeout.count() > 0) {
    idle = std::make_shared<IdleWatch>(down->get_executor(), chain.tcpIdleTimeout);
    boost::asio::co_spawn(down->get_executor(), watchIdle(idle, down, upstream, stats), boost::asio::detached);
  }
  std::shared_ptr<ClusterStats> clusterStats = c.stats;  // the pumps' counters live as long as they run
  // The connection is open in its listener's stats until both directions are done.
  auto listed = std::make_shared<ListenerConnection>(std::move(tally));
  boost::asio::co_spawn(down->get_executor(), [upstream, down, log, idle, counts, stats, clusterStats, listed]() -> Task<void> {
    co_await pump(upstream, down, log, idle, counts->bytesSent, &clusterStats->upstream_cx_rx_bytes_total,
                  stats ? &stats->downstream_cx_tx_bytes_total : nullptr);
  }, boost::asio::detached);
  co_await pump(down, upstream, log, idle, counts->bytesReceived, stats ? &stats->downstream_cx_rx_bytes_total : nullptr,
                &clusterStats->upstream_cx_tx_bytes_total);
}

}  // namespace meshd::proxy
