#pragma once
// meshd's own HTTP endpoints about its proxies:
//   GET /meshd/v1/proxies                        connected proxies: last ACKed versions, last NACK, notes
//   GET /meshd/v1/config_dump?node=<node id>     what meshd would send that proxy now, as Envoy JSON
//                                                (&ipv6=false for a proxy on a host without IPv6)
//   GET /meshd/v1/diagnose?mesh=<mesh>[&caller=<gateway or node>]   predicted outcomes (diagnose.h)

#include "api/http.h"
#include "xds/publisher.h"
#include "xds/snapshot_cache.h"

namespace meshd::xds {

class StatusApi {
 public:
  StatusApi(XdsPublisher& publisher, SnapshotCache& cache) : publisher_(publisher), cache_(cache) {}

  bool accepts(const api::HttpRequest& req) const;
  api::HttpResponse handle(const api::HttpRequest& req);

 private:
  api::HttpResponse proxies();
  api::HttpResponse configDump(const std::string& node, bool ipv6);
  api::HttpResponse diagnose(const std::string& mesh, const std::string& caller);

  XdsPublisher& publisher_;
  SnapshotCache& cache_;
};

// Envoy JSON of one message (proto field names, as Envoy's own config dumps).
std::string envoyJson(const google::protobuf::Message& m);

}  // namespace meshd::xds
