#pragma once
// The connections a worker serves, as coroutines on the worker's io_context: an HTTP/1.1
// connection manager (keep-alive, route lookup, retries, timeouts, Envoy's local replies) and a TCP
// proxy. Worker thread only.

#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

#include "proxy/config.h"
#include "proxy/listener_drain.h"

namespace meshd::proxy {

class Worker;

// `drain` belongs to the listener that accepted the connection (see listener_drain.h).
// `downstreamLocal` is the connection's local address as the listener filters left it (the original
// destination when redirected): where an ORIGINAL_DST cluster connects.
boost::asio::awaitable<void> serveHttp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain,
                                       std::shared_ptr<ListenerDrain> drain, boost::asio::ip::tcp::endpoint downstreamLocal);
boost::asio::awaitable<void> serveTcp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain,
                                      boost::asio::ip::tcp::endpoint downstreamLocal);

}  // namespace meshd::proxy
