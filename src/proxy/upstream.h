#pragma once
// One HTTP/1.1 exchange with one upstream host: connect (bounded by the cluster's connect_timeout),
// send the request, read the response (bounded by the deadline). Says how it failed in Envoy's terms
// so the caller can retry or answer with the matching local reply. Worker thread only.

#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <string>

#include "proxy/config.h"
#include "proxy/upstream_pool.h"

namespace meshd::proxy {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct UpstreamResult {
  enum Kind { kOk, kConnectFailure, kConnectTimeout, kReset, kTimeout };
  Kind kind = kOk;
  Response response;             // kOk
  std::string transportFailure;  // kConnectFailure: "delayed connect error: Connection refused"
};

// Reuses an idle connection from `pool` when there is one (and `mayReuse`), and gives the
// connection back when both sides keep it alive.
boost::asio::awaitable<UpstreamResult> exchange(const Host& host, const ClusterView& cluster, const Request& request,
                                                std::chrono::steady_clock::time_point deadline, UpstreamPool& pool,
                                                bool mayReuse = true);

// Removes the hop-by-hop headers (connection, keep-alive, proxy-connection, te, trailer,
// transfer-encoding, upgrade): one pass comparing the field codes the parser already computed.
template <typename Message>
void stripHopByHop(Message& m) {
  using boost::beast::http::field;
  for (auto it = m.begin(); it != m.end();) {
    switch (it->name()) {
      case field::connection:
      case field::keep_alive:
      case field::proxy_connection:
      case field::te:
      case field::trailer:
      case field::transfer_encoding:
      case field::upgrade: it = m.erase(it); break;
      default: ++it;
    }
  }
}

}  // namespace meshd::proxy
