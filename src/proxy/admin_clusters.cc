#include "proxy/admin_clusters.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <vector>

#include "proxy/access_log.h"
#include "proxy/original_dst.h"
#include "proxy/stats.h"

namespace meshd::proxy {

namespace {

using nlohmann::json;

std::string hostFlags(const Host& h) {
  if (h.healthy() && !h.pendingDynamicRemoval) return "healthy";
  std::string f;
  if (h.failedActiveHc) f += "/failed_active_hc";
  if (h.ejected) f += "/failed_outlier_check";
  if (h.edsUnhealthy) f += "/failed_eds_health";
  if (h.pendingDynamicRemoval) f += "/pending_dynamic_removal";
  if (h.pendingActiveHc) f = "/failed_active_hc/pending_active_hc" + f;  // as Envoy with warm hosts
  return f;
}

// Envoy writes the cluster's rates with {:g} and a host's with {} (the shortest that reads back).
std::string printfG(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}
std::string shortest(double v) {
  char b[32];
  return std::string(b, std::to_chars(b, b + sizeof b, v).ptr);
}

double hostSuccessRate(const Host& h) { return h.outlier ? h.outlier->successRate.load() : -1.0; }

// An ORIGINAL_DST cluster's hosts are the destinations its connections used lately.
std::vector<Host> hostsOf(const ClusterView& c) {
  if (!c.originalDst) return c.hosts;
  return c.originalDstHosts ? c.originalDstHosts->recent() : std::vector<Host>{};
}

std::string clusterText(const ClusterView& c) {
  std::string out = c.name + "::observability_name::" + c.name + "\n";
  if (c.outlierDetection) {  // outlier detection: -1 where no success rate was computed, as Envoy
    out += c.name + "::outlier::success_rate_average::" + printfG(c.stats->outlier_success_rate_average) + "\n";
    out += c.name + "::outlier::success_rate_ejection_threshold::" +
           printfG(c.stats->outlier_success_rate_ejection_threshold) + "\n";
    // Local-origin errors are not told apart (split_external_local_origin_errors), so never rated.
    out += c.name + "::outlier::local_origin_success_rate_average::-1\n";
    out += c.name + "::outlier::local_origin_success_rate_ejection_threshold::-1\n";
  }
  for (auto [priority, b] : {std::pair{"default_priority", c.breakers}, std::pair{"high_priority", c.highPriorityBreakers}}) {
    std::string prefix = c.name + "::" + priority + "::";
    out += prefix + "max_connections::" + std::to_string(b.maxConnections) + "\n";
    out += prefix + "max_pending_requests::" + std::to_string(b.maxPendingRequests) + "\n";
    out += prefix + "max_requests::" + std::to_string(b.maxRequests) + "\n";
    out += prefix + "max_retries::" + std::to_string(b.maxRetries) + "\n";
  }
  out += c.name + "::added_via_api::true\n";
  if (!c.edsServiceName.empty()) out += c.name + "::eds_service_name::" + c.edsServiceName + "\n";
  for (const Host& h : hostsOf(c)) {
    std::string prefix = c.name + "::" + endpointText(h.endpoint) + "::";
    for (const auto& [k, v] : h.stats ? h.stats->values() : HostStats().values()) out += prefix + k + "::" + std::to_string(v) + "\n";
    out += prefix + "hostname::" + h.hostname + "\n";
    out += prefix + "health_flags::" + hostFlags(h) + "\n";
    out += prefix + "weight::" + std::to_string(h.weight) + "\n";
    for (const char* locality : {"region", "zone", "sub_zone"}) out += prefix + locality + "::\n";
    out += prefix + "canary::false\n";
    out += prefix + "priority::0\n";
    out += prefix + "success_rate::" + shortest(hostSuccessRate(h)) + "\n";
    out += prefix + "local_origin_success_rate::-1\n";
  }
  return out;
}

json hostJson(const Host& h) {
  json stats = json::array();
  for (const auto& [name, value] : h.stats ? h.stats->values() : HostStats().values()) {
    json s = {{"name", name}};
    if (value != 0) s["value"] = std::to_string(value);  // uint64 in proto3 JSON; zero left out
    if (isGauge(name)) s["type"] = "GAUGE";
    stats.push_back(std::move(s));
  }
  json health = {{"eds_health_status", h.edsUnhealthy ? "UNHEALTHY" : "HEALTHY"}};
  if (h.failedActiveHc || h.pendingActiveHc) health["failed_active_health_check"] = true;
  if (h.ejected) health["failed_outlier_check"] = true;
  if (h.pendingDynamicRemoval) health["pending_dynamic_removal"] = true;
  if (h.pendingActiveHc) health["pending_active_hc"] = true;
  json out = {{"address", {{"socket_address", {{"address", h.endpoint.address().to_string()}, {"port_value", h.endpoint.port()}}}}},
              {"stats", std::move(stats)},
              {"health_status", std::move(health)}};
  if (double rate = hostSuccessRate(h); rate >= 0) out["success_rate"] = {{"value", rate}};
  if (h.weight != 0) out["weight"] = h.weight;
  if (!h.hostname.empty()) out["hostname"] = h.hostname;
  out["locality"] = json::object();
  return out;
}

json clusterJson(const ClusterView& c) {
  json thresholds = json::array();
  for (auto [high, b] : {std::pair{false, c.breakers}, std::pair{true, c.highPriorityBreakers}}) {
    json t = {{"max_connections", b.maxConnections},
              {"max_pending_requests", b.maxPendingRequests},
              {"max_requests", b.maxRequests},
              {"max_retries", b.maxRetries}};
    if (high) t["priority"] = "HIGH";
    thresholds.push_back(std::move(t));
  }
  json out = {{"name", c.name}, {"added_via_api", true}, {"circuit_breakers", {{"thresholds", std::move(thresholds)}}},
              {"observability_name", c.name}};
  if (c.outlierDetection && c.stats->outlier_success_rate_ejection_threshold > 0) {
    out["success_rate_ejection_threshold"] = {{"value", c.stats->outlier_success_rate_ejection_threshold.load()}};
  }
  if (!c.edsServiceName.empty()) out["eds_service_name"] = c.edsServiceName;
  json hosts = json::array();
  for (const Host& h : hostsOf(c)) hosts.push_back(hostJson(h));
  if (!hosts.empty()) out["host_statuses"] = std::move(hosts);
  return out;
}

}  // namespace

std::string clustersText(const Config& config) {
  std::string out;
  for (const auto& [name, c] : config.clusters) out += clusterText(*c);
  return out;
}

std::string clustersJson(const Config& config) {
  json statuses = json::array();
  for (const auto& [name, c] : config.clusters) statuses.push_back(clusterJson(*c));
  return json{{"cluster_statuses", std::move(statuses)}}.dump(1) + "\n";
}

}  // namespace meshd::proxy
