#pragma once
// Static DNS records for plain-DNS service discovery (the walkthrough's DNS setup names such as
// colorteller-red.default.svc.cluster.local.dns with an A record, or A and AAAA), kept in the store
// and served by meshd's DNS server. meshd's own small REST API, as App Mesh users kept such records
// in Route 53 rather than in App Mesh:
//
//   PUT    /meshd/v1/dns/records/<name>   {"A": ["198.18.0.2"], "AAAA": ["fd00::2"], "TTL": 60}
//   GET    /meshd/v1/dns/records/<name>
//   GET    /meshd/v1/dns/records          {"records": [...]}
//   DELETE /meshd/v1/dns/records/<name>
//
// Errors use the App Mesh error form (x-amzn-ErrorType, {"message": ...}).

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "common/status.h"
#include "store/store.h"

namespace meshd::discovery {

inline constexpr const char* kStaticRecordsPath = "/meshd/v1/dns/records";

// Lower-cases, strips one trailing dot, and checks RFC 1035 label and name lengths.
StatusOr<std::string> canonicalDnsName(const std::string& name);

// Checks and normalizes a record set {"A": [...], "AAAA": [...], "TTL": n}; adds "Name".
StatusOr<nlohmann::json> parseRecordSet(const std::string& name, const nlohmann::json& body);

class StaticRecordsApi {
 public:
  explicit StaticRecordsApi(store::Store& store) : store_(store) {}

  bool accepts(const api::HttpRequest& req) const;
  api::HttpResponse handle(const api::HttpRequest& req);

 private:
  store::Store& store_;
};

}  // namespace meshd::discovery
