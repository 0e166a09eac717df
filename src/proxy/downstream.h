#pragma once
// The downstream side of one request as the router sees it, whatever protocol the client speaks:
// answer it with a local reply, or relay an upstream's response to it. HTTP/1.1 (http_session.cc)
// and HTTP/2 (h2_session.cc) implement it. Worker thread only.

#include <chrono>

#include "proxy/access_log.h"
#include "proxy/io.h"
#include "proxy/local_reply.h"
#include "proxy/request_body.h"
#include "proxy/response_headers.h"
#include "proxy/response_relay.h"
#include "proxy/upstream.h"

namespace meshd::proxy {

// How long a client may stay silent while a request is under way (its head or body arriving, or our
// response on the way) before its connection is closed: Envoy's stream_idle_timeout.
inline constexpr std::chrono::seconds kIdleTimeout{300};

class Downstream {
 public:
  Downstream(RequestLog& log, const ServerHeader& server) : log(log), server(server) {}
  virtual ~Downstream() = default;

  // Answers with Envoy's local reply `r`, reading past what already arrived of the request's body.
  // Returns whether the connection serves another request.
  Task<bool> reply(RequestBody& body, const LocalReply& r) {
    log.details = r.details;
    log.localReplyBody = r.body;
    return sendReply(body, r);
  }

  // Relays `response` (its head read, hop-by-hop fields still in it) and then its body as it
  // arrives; `deadline` (the route's) bounds the upstream from here. On kDone, again() says whether
  // the connection serves another request.
  virtual Task<RelayResult> relay(UpstreamResponse& response, RequestBody& body,
                                  std::chrono::steady_clock::time_point deadline, UpstreamPool& pool) = 0;
  virtual bool again() const = 0;

  // The client went away (its stream reset, its connection closed) while its request was under
  // way. As Envoy resets the upstream request then, the upstream side the router watches is
  // aborted at once (an HTTP/2 stream reset, an HTTP/1.1 connection closed): no upstream works on
  // for a client that is gone. What the router was waiting for then fails, and it ends as DC.
  void clientGone() {
    if (gone_) return;
    gone_ = true;
    if (upstream_) upstream_->abort();
  }
  bool gone() const { return gone_; }
  // The router: the upstream exchange that clientGone() aborts (nullptr: none).
  void watch(UpstreamResponse* upstream) { upstream_ = upstream; }

  RequestLog& log;
  const ServerHeader& server;  // with date, on every response (response_headers.h)

 protected:
  virtual Task<bool> sendReply(RequestBody& body, const LocalReply& r) = 0;

 private:
  bool gone_ = false;
  UpstreamResponse* upstream_ = nullptr;
};

}  // namespace meshd::proxy
