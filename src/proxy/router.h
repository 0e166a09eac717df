#pragma once
// Envoy's router filter, for a request whose head has been read: route it (virtual host, route,
// weighted cluster), enforce the cluster's circuit breakers, choose a host (load balancer, health,
// panic, ORIGINAL_DST), forward it with the route's retries and timeouts, and answer through the
// Downstream (the upstream's response, or the local reply Envoy would give). Worker thread only.

#include "proxy/config.h"
#include "proxy/downstream.h"
#include "proxy/io.h"
#include "proxy/request_body.h"
#include "proxy/request_head.h"

namespace meshd::proxy {

class Worker;

// The access log's record of a request, started as its head arrives (its strings only when the
// chain has an access log). `connectionId`: the downstream connection's nextConnectionId().
// REQUEST_DURATION: from `started` to the body's last byte (0 without a body); none while it was
// still coming.
inline std::optional<std::chrono::milliseconds> requestDuration(const RequestBody& body,
                                                                std::chrono::steady_clock::time_point started) {
  if (!body.done()) return std::nullopt;
  auto end = body.completed();
  if (!end && body.bytes() > 0) return std::nullopt;  // it ended while nobody read it: when is unknown
  return std::chrono::duration_cast<std::chrono::milliseconds>(end ? *end - started : std::chrono::nanoseconds(0));
}

// GRPC_STATUS for a gRPC request whose response carried none (a local reply, an HTTP error): its
// HTTP status mapped, as Envoy's Grpc::Common::getGrpcStatus. Just before the log is written.
void finishGrpcStatus(RequestLog& log);

RequestLog requestLog(const FilterChainView& chain, const RequestHead& req, std::string_view protocol, Socket& socket,
                      const boost::asio::ip::tcp::endpoint& downstreamLocal, uint64_t connectionId);

// Edits the head into the upstream request once routed. Returns whether the connection
// serves another request (Downstream::reply's or again()).
Task<bool> forward(Worker& worker, const FilterChainView& chain, RequestHead& req, RequestBody& body, Downstream& d);

}  // namespace meshd::proxy
