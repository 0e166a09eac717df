#pragma once
// The connections a worker serves, as coroutines on the worker's io_context: an HTTP/1.1
// connection manager (keep-alive, route lookup, retries, timeouts, Envoy's local replies) and a TCP
// proxy. Worker thread only.


#include <memory>

#include "proxy/config.h"
#include "proxy/io.h"
#include "proxy/listener_drain.h"

namespace meshd::proxy {

class Worker;

// `drain` belongs to the listener that accepted the connection (see listener_drain.h).
// `downstreamLocal` is the connection's local address as the listener filters left it (the original
// destination when redirected): where an ORIGINAL_DST cluster connects. `tally`: its place in its
// listener's stats, until the session ends.
Task<void> serveHttp(Worker& worker, Socket socket, FilterChainView chain, std::shared_ptr<ListenerDrain> drain,
                     boost::asio::ip::tcp::endpoint downstreamLocal, ListenerConnection tally);
// HTTP/2 by prior knowledge, once serveHttp saw the connection preface; `preread`: the bytes read so
// far, the preface first. `connectionId`: the one serveHttp took (nextConnectionId()).
Task<void> serveHttp2(Worker& worker, Socket socket, std::string preread, FilterChainView chain,
                      std::shared_ptr<ListenerDrain> drain, boost::asio::ip::tcp::endpoint downstreamLocal,
                      uint64_t connectionId);
Task<void> serveTcp(Worker& worker, Socket socket, FilterChainView chain, boost::asio::ip::tcp::endpoint downstreamLocal,
                    ListenerConnection tally);

}  // namespace meshd::proxy
