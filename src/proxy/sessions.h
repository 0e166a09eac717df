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
boost::asio::awaitable<void> serveHttp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain,
                                       std::shared_ptr<ListenerDrain> drain);
boost::asio::awaitable<void> serveTcp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain);

}  // namespace meshd::proxy
