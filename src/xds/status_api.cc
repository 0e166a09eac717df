#include "xds/status_api.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "api/rest_json.h"
#include "common/encoding.h"
#include "discovery/zones.h"
#include "xds/diagnose.h"
#include "xds/proxy_health.h"
#include "xds/resource_types.h"

namespace meshd::xds {

using nlohmann::json;

namespace {

constexpr std::string_view kProxies = "/meshd/v1/proxies";
constexpr std::string_view kConfigDump = "/meshd/v1/config_dump";
constexpr std::string_view kDiagnose = "/meshd/v1/diagnose";
// A proxy's admin answers at once or not at all (it is gone, or a firewall drops the packets).
constexpr std::chrono::milliseconds kAdminTimeout{500};

api::HttpResponse ok(const json& body) { return {200, {{"content-type", "application/json"}}, body.dump(2)}; }

template <typename List>
json jsonList(const List& messages) {
  json out = json::array();
  for (const auto& m : messages) out.push_back(json::parse(envoyJson(m)));
  return out;
}

}  // namespace

std::string envoyJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

bool StatusApi::accepts(const api::HttpRequest& req) const {
  std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  return path == kProxies || path == kConfigDump || path == kDiagnose;
}

api::HttpResponse StatusApi::handle(const api::HttpRequest& req) {
  if (req.method != "GET") return api::restJsonError(badRequest("use GET"));
  size_t q = req.target.find('?');
  std::string_view path = std::string_view(req.target).substr(0, q);
  if (path == kProxies) return proxies();
  auto query = parseQuery(q == std::string::npos ? "" : std::string_view(req.target).substr(q + 1));
  if (path == kDiagnose) {
    if (!query || !query->count("mesh")) return api::restJsonError(badRequest("diagnose needs ?mesh=<mesh>"));
    return diagnose(query->at("mesh"), query->count("caller") ? query->at("caller") : "");
  }
  if (!query || !query->count("node")) return api::restJsonError(badRequest("config_dump needs ?node=<node id>"));
  return configDump(query->at("node"), !query->count("ipv6") || query->at("ipv6") != "false");
}

api::HttpResponse StatusApi::proxies() {
  json list = json::array();
  for (const ProxyStatus& p : cache_.proxies()) {
    json acked = json::object();
    for (const auto& [type, version] : p.ackedVersion) acked[type] = version;
    // In sync: the proxy has ACKed, for every type, the version its current snapshot holds.
    auto snapshot = cache_.snapshot(p.key);
    bool inSync = snapshot != nullptr;
    for (std::string_view type : kPushOrder) {
      if (!snapshot) break;
      auto a = p.ackedVersion.find(std::string(type));
      inSync = inSync && snapshot->versionOf(type) == (a == p.ackedVersion.end() ? "" : a->second);
    }
    json item = {{"key", p.key},
                 {"nodeId", p.nodeId},
                 {"stream", p.streamId},
                 {"delta", p.delta},
                 {"connectedAt", std::chrono::duration_cast<std::chrono::seconds>(p.connectedAt.time_since_epoch()).count()},
                 {"acked", acked},
                 {"inSync", inSync},
                 {"peer", p.peer},
                 {"adminPort", p.adminPort},
                 {"notes", publisher_.notes(p.key)}};
    if (!p.lastNackReason.empty()) item["lastNack"] = {{"type", p.lastNackType}, {"reason", p.lastNackReason}};
    list.push_back(item);
  }
  return ok({{"storeRevision", publisher_.storeRevision()},
             {"publishedRevision", publisher_.publishedRevision()},
             {"proxies", list}});
}

api::HttpResponse StatusApi::configDump(const std::string& node, bool ipv6) {
  auto t = publisher_.translateFor(node, ipv6);
  if (!t.ok()) return api::restJsonError(t.status());
  return ok({{"node", node},
             {"notes", t->notes},
             {"clusters", jsonList(t->clusters)},
             {"endpoints", jsonList(t->endpoints)},
             {"listeners", jsonList(t->listeners)},
             {"routes", jsonList(t->routes)}});
}

api::HttpResponse StatusApi::diagnose(const std::string& mesh, const std::string& caller) {
  auto world = publisher_.currentWorld();
  if (!world.ok()) return api::restJsonError(world.status());
  if (!world->meshes.count(mesh)) return api::restJsonError(notFound("mesh " + mesh + " not found"));
  auto zones = discovery::buildZones(world->registry);
  // The callers' own health-check verdicts, from the admin endpoints of the connected proxies.
  CallerHealth health;
  json sources = json::array();
  std::string prefix = "mesh/" + mesh + "/";
  for (const ProxyStatus& p : cache_.proxies()) {
    std::string id = p.key.substr(0, p.key.find('?'));
    if (id.compare(0, prefix.size(), prefix) != 0 || health.count(id)) continue;
    if (!caller.empty() && id.substr(id.rfind('/') + 1) != caller) continue;
    json source = {{"proxy", id}, {"admin", p.peer + ":" + std::to_string(p.adminPort)}};
    if (p.peer.empty() || p.adminPort == 0) {
      source["error"] = "no admin port in its node metadata";
    } else if (auto h = fetchClusterHealth(p.peer, p.adminPort, kAdminTimeout); h.ok()) {
      health[id] = std::move(*h);
    } else {
      source["error"] = h.status().message();
    }
    sources.push_back(source);
  }
  json rows = json::array();
  for (const Diagnosis& d : xds::diagnose(*world, *zones, mesh, caller, health)) rows.push_back(d.toJson());
  return ok({{"mesh", mesh}, {"revision", world->revision}, {"diagnoses", rows}, {"healthSources", sources}});
}

}  // namespace meshd::xds
