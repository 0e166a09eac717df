#include "xds/routes.h"

#include <algorithm>

#include "xds/builders.h"

namespace meshd::xds {

using envoy::config::route::v3::Route;
using envoy::config::route::v3::RouteMatch;
using nlohmann::json;

namespace {

void stringMatch(const json& m, envoy::type::matcher::v3::StringMatcher* out) {
  if (m.contains("exact")) out->set_exact(m["exact"].get<std::string>());
  else if (m.contains("prefix")) out->set_prefix(m["prefix"].get<std::string>());
  else if (m.contains("suffix")) out->set_suffix(m["suffix"].get<std::string>());
  else if (m.contains("regex")) out->mutable_safe_regex()->set_regex(m["regex"].get<std::string>());
}

void headerMatch(const json& h, envoy::config::route::v3::HeaderMatcher* out) {
  out->set_name(h["name"].get<std::string>());
  if (h.value("invert", false)) out->set_invert_match(true);
  if (!h.contains("match")) {
    out->set_present_match(true);
    return;
  }
  const json& m = h["match"];
  if (m.contains("range")) {
    out->mutable_range_match()->set_start(m["range"]["start"].get<int64_t>());
    out->mutable_range_match()->set_end(m["range"]["end"].get<int64_t>());
  } else {
    stringMatch(m, out->mutable_string_match());
  }
}

void httpMatch(const json& m, RouteMatch* out) {
  if (m.contains("prefix")) {
    out->set_prefix(m["prefix"].get<std::string>());
  } else if (m.contains("path") && m["path"].contains("exact")) {
    out->set_path(m["path"]["exact"].get<std::string>());
  } else if (m.contains("path") && m["path"].contains("regex")) {
    out->mutable_safe_regex()->set_regex(m["path"]["regex"].get<std::string>());
  } else {
    out->set_prefix("/");
  }
  for (const json& h : m.value("headers", json::array())) headerMatch(h, out->add_headers());
  if (m.contains("method")) {
    auto* h = out->add_headers();
    h->set_name(":method");
    h->mutable_string_match()->set_exact(m["method"].get<std::string>());
  }
  for (const json& q : m.value("queryParameters", json::array())) {
    auto* qp = out->add_query_parameters();
    qp->set_name(q["name"].get<std::string>());
    if (q.contains("match") && q["match"].contains("exact")) {
      qp->mutable_string_match()->set_exact(q["match"]["exact"].get<std::string>());
    } else {
      qp->set_present_match(true);
    }
  }
}

void grpcMatch(const json& m, RouteMatch* out) {
  std::string service = m.value("serviceName", "");
  std::string method = m.value("methodName", "");
  if (!service.empty() && !method.empty()) out->set_path("/" + service + "/" + method);
  else if (!service.empty()) out->set_prefix("/" + service + "/");
  else out->set_prefix("/");
  for (const json& md : m.value("metadata", json::array())) headerMatch(md, out->add_headers());
}

void retryPolicy(const json& p, envoy::config::route::v3::RouteAction* action) {
  static const std::map<std::string, std::string> kEvents = {{"server-error", "5xx"},
                                                             {"gateway-error", "gateway-error"},
                                                             {"client-error", "retriable-4xx"},
                                                             {"stream-error", "refused-stream"},
                                                             {"cancelled", "cancelled"},
                                                             {"deadline-exceeded", "deadline-exceeded"},
                                                             {"internal", "internal"},
                                                             {"resource-exhausted", "resource-exhausted"},
                                                             {"unavailable", "unavailable"},
                                                             {"connection-error", "connect-failure"}};
  std::vector<std::string> on;
  for (const char* list : {"httpRetryEvents", "grpcRetryEvents", "tcpRetryEvents"}) {
    for (const json& e : p.value(list, json::array())) {
      auto it = kEvents.find(e.get<std::string>());
      if (it != kEvents.end()) on.push_back(it->second);
    }
  }
  std::string joined;
  for (const auto& s : on) joined += (joined.empty() ? "" : ",") + s;
  auto* r = action->mutable_retry_policy();
  r->set_retry_on(joined);
  r->mutable_num_retries()->set_value(p["maxRetries"].get<uint32_t>());
  *r->mutable_per_try_timeout() = duration(p["perRetryTimeout"]);
}

void timeouts(const json& t, envoy::config::route::v3::RouteAction* action) {
  if (t.contains("perRequest")) *action->mutable_timeout() = duration(t["perRequest"]);
  if (t.contains("idle")) *action->mutable_idle_timeout() = duration(t["idle"]);
}

void weighted(const std::vector<std::pair<std::string, uint32_t>>& clusters, envoy::config::route::v3::RouteAction* a) {
  if (clusters.size() == 1) {
    a->set_cluster(clusters[0].first);
    return;
  }
  for (const auto& [name, weight] : clusters) {
    auto* c = a->mutable_weighted_clusters()->add_clusters();
    c->set_name(name);
    c->mutable_weight()->set_value(weight);
  }
}

}  // namespace

std::string routeKind(const json& spec) {
  for (const char* kind : {"httpRoute", "http2Route", "grpcRoute", "tcpRoute"}) {
    if (spec.contains(kind)) return kind;
  }
  return "";
}

std::vector<std::pair<std::string, const json*>> byPriority(const std::map<std::string, json>& specs) {
  std::vector<std::pair<std::string, const json*>> out;
  for (const auto& [name, spec] : specs) out.emplace_back(name, &spec);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second->value("priority", 1001) < b.second->value("priority", 1001);
  });
  return out;
}

std::optional<Route> meshRoute(const std::string& name, const json& spec, const ClusterOf& clusterOf,
                               std::vector<std::string>* notes) {
  std::string kind = routeKind(spec);
  const json& r = spec[kind];
  std::vector<std::pair<std::string, uint32_t>> clusters;
  for (const json& t : r["action"]["weightedTargets"]) {
    std::string cluster = clusterOf(t["virtualNode"].get<std::string>(), t.value("port", 0u));
    if (cluster.empty()) {
      notes->push_back("route " + name + ": target " + t["virtualNode"].get<std::string>() + " has no such listener");
      continue;
    }
    clusters.emplace_back(cluster, t["weight"].get<uint32_t>());
  }
  if (clusters.empty()) return std::nullopt;
  Route out;
  out.set_name(name);
  const json& match = r.value("match", json::object());
  if (kind == "grpcRoute") grpcMatch(match, out.mutable_match());
  else httpMatch(match, out.mutable_match());
  auto* action = out.mutable_route();
  weighted(clusters, action);
  if (r.contains("retryPolicy")) retryPolicy(r["retryPolicy"], action);
  if (r.contains("timeout")) timeouts(r["timeout"], action);
  return out;
}

std::vector<Route> gatewayRoutes(const std::string& name, const json& spec, const std::string& serviceName,
                                 const std::vector<std::pair<std::string, uint32_t>>& clusters) {
  Route r = gatewayRoute(name, spec, serviceName, clusters);
  // With the default rewrite, /p must serve /p/x as /x, not //x: as App Mesh, /p/ goes first.
  const std::string& prefix = r.match().prefix();
  if (prefix.empty() || prefix.back() == '/' || r.route().prefix_rewrite() != "/") return {r};
  Route slash = r;
  slash.mutable_match()->set_prefix(prefix + "/");
  return {slash, r};
}

Route gatewayRoute(const std::string& name, const json& spec, const std::string& serviceName,
                   const std::vector<std::pair<std::string, uint32_t>>& clusters) {
  std::string kind = routeKind(spec);
  const json& r = spec[kind];
  const json& match = r.value("match", json::object());
  Route out;
  out.set_name(name);
  if (kind == "grpcRoute") grpcMatch(match, out.mutable_match());
  else httpMatch(match, out.mutable_match());
  auto* action = out.mutable_route();
  weighted(clusters, action);
  const json& rewrite = r["action"].value("rewrite", json::object());
  // By default App Mesh sends the target service's name as Host and strips the matched prefix.
  bool hostRewrite = !rewrite.contains("hostname") || rewrite["hostname"].value("defaultTargetHostname", "ENABLED") == "ENABLED";
  if (hostRewrite) action->set_host_rewrite_literal(serviceName);
  if (match.contains("prefix")) {
    const json& prefix = rewrite.value("prefix", json::object());
    if (prefix.contains("value")) action->set_prefix_rewrite(prefix["value"].get<std::string>());
    else if (prefix.value("defaultPrefix", "ENABLED") == "ENABLED") action->set_prefix_rewrite("/");
  } else if (rewrite.contains("path") && rewrite["path"].contains("exact")) {
    auto* rr = action->mutable_regex_rewrite();
    rr->mutable_pattern()->set_regex("^.*$");
    rr->set_substitution(rewrite["path"]["exact"].get<std::string>());
  }
  return out;
}

}  // namespace meshd::xds
