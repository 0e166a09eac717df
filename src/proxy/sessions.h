#pragma once
// The connections a worker serves, as coroutines on the worker's io_context: an HTTP/1.1
// connection manager (keep-alive, route lookup, retries, timeouts, Envoy's local replies) and a TCP
// proxy. Worker thread only.

#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/config.h"

namespace meshd::proxy {

class Worker;

boost::asio::awaitable<void> serveHttp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain);
boost::asio::awaitable<void> serveTcp(Worker& worker, boost::asio::ip::tcp::socket socket, FilterChainView chain);

}  // namespace meshd::proxy
