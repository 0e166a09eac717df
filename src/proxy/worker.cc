#include "proxy/worker.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <random>

#include "proxy/filter_chain_match.h"
#include "proxy/listener_filters.h"
#include "proxy/loggers.h"
#include "proxy/sessions.h"

namespace meshd::proxy {

using tcp = boost::asio::ip::tcp;

namespace {

// Chooses the connection's filter chain and hands it over; no chain: Envoy closes the connection.
void serve(Worker& worker, Socket s, const ListenerView& l, const ConnectionFacts& facts, const tcp::endpoint& local,
           std::shared_ptr<ListenerDrain> drain) {
  const FilterChainView* chain = selectFilterChain(l.chains, facts);
  if (!chain) {
    if (l.stats) l.stats->no_filter_chain_match++;
    return;
  }
  ListenerConnection tally(l.stats);
  if (chain->http) {
    boost::asio::co_spawn(worker.context(), serveHttp(worker, std::move(s), *chain, std::move(drain), local, std::move(tally)),
                          boost::asio::detached);
  } else {
    boost::asio::co_spawn(worker.context(), serveTcp(worker, std::move(s), *chain, local, std::move(tally)), boost::asio::detached);
  }
}

// With the TLS inspector the chain waits for the first bytes. `l` is held: a new snapshot may
// replace the listener meanwhile.
Task<void> inspectThenServe(Worker& worker, Socket s, std::shared_ptr<const ListenerView> l,
                                              ConnectionFacts facts, tcp::endpoint local,
                                              std::shared_ptr<ListenerDrain> drain) {
  bool matched = false;
  {
    std::optional<GaugeHold> inFilters;
    if (l->stats) inFilters.emplace(l->stats->downstream_pre_cx_active);
    matched = co_await inspectTls(s, *l, facts);  // not `if (!co_await ...)`: GCC 12 miscompiles that
  }
  if (matched) serve(worker, std::move(s), *l, facts, local, std::move(drain));
}

}  // namespace

Worker::Worker(size_t index, OnOutlier onOutlier, Coalescing coalescing)
    : index_(index), onOutlier_(std::move(onOutlier)), coalescing_(coalescing) {
  // Seeded afresh by each process, as Envoy's random generator: request ids must not repeat across
  // proxies or restarts, nor load balancing draws follow one fixed sequence.
  std::random_device seed;
  do {
    rng_ = (uint64_t{seed()} << 32) ^ seed();
  } while (rng_ == 0);  // xorshift's one fixed point
}

Worker::~Worker() { stop(); }

void Worker::start() {
  thread_ = std::thread([this] { runLoop(io_, coalescing_); });
}

void Worker::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::setConfig(ConfigPtr config) {
  boost::asio::post(io_, [this, config = std::move(config)]() mutable { apply(std::move(config)); });
}

uint64_t Worker::random() {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}

void Worker::apply(ConfigPtr config) {
  config_ = std::move(config);
  // As Envoy, a removed cluster's pooled connections go with it.
  // Asked again later, of the config then current, for a connection given back after the change.
  auto present = [this](std::string_view c) { return config_->clusters.find(c) != config_->clusters.end(); };
  pool_.retain(present);
  h2Pool_.retain(present);
  for (auto it = acceptors_.begin(); it != acceptors_.end();) {
    auto l = config_->listeners.find(it->first);
    if (l == config_->listeners.end() || l->second->sockets.get() != it->second.sockets) {
      boost::system::error_code ec;
      it->second.acceptor->close(ec);
      // A stopped listener's connections go on; a removed or replaced one's drain.
      if (!config_->stoppedListeners.count(it->first)) it->second.drain->start();
      it = acceptors_.erase(it);
    } else {
      if (config_->drainingListeners.count(it->first)) it->second.drain->start();
      ++it;
    }
  }
  for (const auto& [name, l] : config_->listeners) {
    if (acceptors_.count(name)) continue;
    int fd = ::dup(l->sockets->fd(index_));
    if (fd < 0) continue;
    auto a = std::make_shared<proxy::Acceptor>(io_);
    bool v6 = l->proto->address().socket_address().address().find(':') != std::string::npos;
    boost::system::error_code ec;
    a->assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (!ec) a->listen(1024, ec);
    if (ec) {
      ::close(fd);
      logger(Log::kConfig).error("msg=\"cannot adopt listener socket\" listener={} error=\"{}\"", name, ec.message());
      continue;
    }
    auto drain = std::make_shared<ListenerDrain>();
    if (config_->drainingListeners.count(name)) drain->start();
    acceptors_[name] = {l->sockets.get(), a, drain};
    accept(name, a, drain);
  }
}

void Worker::accept(const std::string& listener, std::shared_ptr<proxy::Acceptor> a, std::shared_ptr<ListenerDrain> drain) {
  a->async_accept([this, listener, a, drain](boost::system::error_code ec, Socket s) {
    if (ec == boost::asio::error::operation_aborted || !a->is_open()) return;
    if (ec == boost::asio::error::invalid_argument) return;  // no longer listening: stopped (BoundSockets::stop)
    if (!ec) onConnection(listener, std::move(s), drain);
    accept(listener, a, drain);
  });
}

void Worker::onConnection(const std::string& listener, Socket s, std::shared_ptr<ListenerDrain> drain) {
  auto it = config_->listeners.find(listener);
  if (it == config_->listeners.end()) return;
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<const ListenerView> l = it->second;
  tcp::endpoint local = downstreamLocalAddress(s, l->originalDst);
  ConnectionFacts facts;
  facts.destinationPort = local.port();
  if (l->tlsInspector) {
    boost::asio::co_spawn(io_, inspectThenServe(*this, std::move(s), l, facts, local, std::move(drain)), boost::asio::detached);
    return;
  }
  serve(*this, std::move(s), *l, facts, local, std::move(drain));
}

}  // namespace meshd::proxy
