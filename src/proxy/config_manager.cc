#include "proxy/config_manager.h"

#include <algorithm>
#include <cstdint>
#include <cmath>

#include "proxy/outlier_detector.h"

#include <boost/asio/ip/address.hpp>
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include "proxy/cluster_protocol.h"
#include "proxy/original_dst.h"
#include "proxy/xds_types.h"

namespace meshd::proxy {

using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;

namespace {

StatusOr<Host> hostOf(const envoy::config::core::v3::SocketAddress& a) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(a.address(), ec);
  if (ec) return badRequest("endpoint address is not an IP address: " + a.address());
  Host h;
  h.address = a.address();
  h.port = a.port_value();
  h.endpoint = boost::asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(a.port_value()));
  return h;
}

bool isIp(const std::string& s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(s, ec);
  return !ec;
}

std::string hostKey(const Host& h) { return h.address + ":" + std::to_string(h.port); }

}  // namespace

std::chrono::milliseconds initialFetchTimeout(const envoy::config::core::v3::ConfigSource& source) {
  return source.has_initial_fetch_timeout() ? toMillis(source.initial_fetch_timeout()) : std::chrono::milliseconds(15000);
}

ConfigManager::ConfigManager(size_t workers, StatsRegistry& stats, Publish publish, StartDns startDns)
    : workers_(workers), stats_(stats), publish_(std::move(publish)), startDns_(std::move(startDns)) {}

Status ConfigManager::apply(const std::string& typeUrl,
                            const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources) {
  for (const auto& any : resources) {
    if (any.type_url() != typeUrl) return badRequest("resource of type " + any.type_url() + " in a " + typeUrl + " response");
  }
  Status s;
  if (typeUrl == kClusterType) s = applyClusters(resources);
  else if (typeUrl == kEndpointType) s = applyEndpoints(resources);
  else if (typeUrl == kListenerType) s = applyListeners(resources);
  else if (typeUrl == kRouteType) s = applyRoutes(resources);
  else return badRequest("unsupported type " + typeUrl);
  if (s.ok()) publish();
  return s;
}

Status ConfigManager::applyClusters(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources) {
  std::map<std::string, ClusterEntry> next;
  std::vector<std::string> dnsToStart;
  for (const auto& any : resources) {
    auto c = std::make_shared<Cluster>();
    if (!any.UnpackTo(c.get())) return badRequest("cannot unpack a Cluster");
    if (next.count(c->name())) return badRequest("duplicate cluster " + c->name());
    if (auto p = protocolOf(*c); !p.ok()) return badRequest("cluster " + c->name() + ": " + p.status().message());
    if (c->has_outlier_detection() && maxEjectionTime(c->outlier_detection()) < baseEjectionTime(c->outlier_detection())) {
      return badRequest("cluster " + c->name() + ": outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
    }
    auto old = clusters_.find(c->name());
    if (old != clusters_.end() && google::protobuf::util::MessageDifferencer::Equals(*old->second.proto, *c)) {
      next[c->name()] = old->second;
      continue;
    }
    ClusterEntry e;
    e.proto = c;
    e.stats = stats_.cluster(c->name());
    e.stats->eds = c->type() == Cluster::EDS;
    // As Envoy, which builds a new or changed cluster anew: its hosts wait for fresh first checks
    // (the previous version serves meanwhile, with the verdicts it was built with).
    checkedHc_.erase(c->name());
    failedHc_.erase(c->name());
    ejected_.erase(c->name());   // and a fresh outlier detector (the detector drops the old one's state)
    outliers_.erase(c->name());
    if (old != clusters_.end()) e.active = old->second.active;
    switch (c->type()) {
      case Cluster::STATIC:
        for (const auto& l : c->load_assignment().endpoints()) {
          for (const auto& lb : l.lb_endpoints()) {
            auto h = hostOf(lb.endpoint().address().socket_address());
            if (!h.ok()) return badRequest("cluster " + c->name() + ": " + h.status().message());
          }
        }
        hostsFromAssignment(e, c->load_assignment());
        e.hostsKnown = true;
        break;
      case Cluster::EDS:
        e.edsName = c->eds_cluster_config().service_name().empty() ? c->name() : c->eds_cluster_config().service_name();
        e.edsFetchTimeout = initialFetchTimeout(c->eds_cluster_config().eds_config());
        if (auto it = endpoints_.find(e.edsName); it != endpoints_.end()) {
          hostsFromAssignment(e, it->second);
          e.hostsKnown = true;
        }
        break;
      case Cluster::STRICT_DNS:
      case Cluster::LOGICAL_DNS: {
        const auto& eps = c->load_assignment().endpoints();
        if (eps.empty() || eps[0].lb_endpoints().empty()) return badRequest("cluster " + c->name() + " has no DNS name");
        const auto& sa = eps[0].lb_endpoints(0).endpoint().address().socket_address();
        if (isIp(sa.address())) {
          hostsFromAssignment(e, c->load_assignment());
          e.hostsKnown = true;
        } else {
          // No addresses carried over: with a new lookup family the old answer may be one the
          // new cluster must not use (the IP preference changed). The old version serves meanwhile.
          dnsToStart.push_back(c->name());
        }
        break;
      }
      case Cluster::ORIGINAL_DST:
        // Envoy's own checks: the hosts come from the connections, so the cluster names none and
        // must leave host choice to the cluster.
        if (c->lb_policy() != Cluster::CLUSTER_PROVIDED) {
          return badRequest("cluster " + c->name() + ": LB policy " + Cluster::LbPolicy_Name(c->lb_policy()) +
                            " is not valid for Cluster type ORIGINAL_DST. Only 'CLUSTER_PROVIDED' is allowed");
        }
        if (c->load_assignment().endpoints_size() > 0) {
          return badRequest("cluster " + c->name() + ": ORIGINAL_DST clusters must have no load assignment configured");
        }
        e.originalDstHosts = std::make_shared<OriginalDstHosts>(
            c->has_cleanup_interval() ? toMillis(c->cleanup_interval()) : std::chrono::milliseconds(5000));
        e.hostsKnown = true;
        break;
      default:
        return badRequest("cluster " + c->name() + ": unsupported cluster type " + Cluster::DiscoveryType_Name(c->type()));
    }
    next[c->name()] = std::move(e);
  }
  clusters_ = std::move(next);
  for (auto* perCluster : {&checkedHc_, &failedHc_}) {  // what removed clusters left
    std::erase_if(*perCluster, [this](const auto& kv) { return !clusters_.count(kv.first); });
  }
  std::erase_if(hostStats_, [this](const auto& kv) { return !clusters_.count(kv.first); });
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    bool used = false;
    for (const auto& [n, e] : clusters_) used = used || e.edsName == it->first;
    it = used ? std::next(it) : endpoints_.erase(it);
  }
  cdsSeen_ = true;
  for (const auto& name : dnsToStart) startDns_(*clusters_[name].proto);
  return okStatus();
}

Status ConfigManager::applyEndpoints(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources) {
  std::vector<ClusterLoadAssignment> parsed;
  Status bad = okStatus();
  for (const auto& any : resources) {
    ClusterLoadAssignment cla;
    if (!any.UnpackTo(&cla)) {
      bad = badRequest("cannot unpack a ClusterLoadAssignment");
      continue;
    }
    for (const auto& l : cla.endpoints()) {
      for (const auto& lb : l.lb_endpoints()) {
        auto h = hostOf(lb.endpoint().address().socket_address());
        if (!h.ok() && bad.ok()) bad = badRequest("endpoints " + cla.cluster_name() + ": " + h.status().message());
      }
    }
    parsed.push_back(std::move(cla));
  }
  // Each EDS cluster counts the assignments it was sent, as its subscription does in Envoy.
  for (auto& cla : parsed) {
    for (auto& [name, e] : clusters_) {
      if (e.edsName != cla.cluster_name()) continue;
      e.stats->update_attempt++;
      if (!bad.ok()) {
        e.stats->update_rejected++;
        continue;
      }
      std::vector<Host> before = e.hosts;
      hostsFromAssignment(e, cla);
      e.hostsKnown = true;
      e.stats->update_success++;
      if (sameHosts(before, e.hosts)) e.stats->update_no_rebuild++;
    }
    if (bad.ok()) endpoints_[cla.cluster_name()] = std::move(cla);
  }
  return bad;
}

void ConfigManager::subscriptionFailed() {
  for (auto& [name, e] : clusters_) {
    if (e.edsName.empty()) continue;
    e.stats->update_attempt++;
    e.stats->update_failure++;
  }
}

bool ConfigManager::sameHosts(const std::vector<Host>& a, const std::vector<Host>& b) {
  auto same = [](const Host& x, const Host& y) {
    return x.key() == y.key() && x.edsUnhealthy == y.edsUnhealthy && x.weight == y.weight && x.hostname == y.hostname;
  };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same);
}

void ConfigManager::hostsFromAssignment(ClusterEntry& e, const ClusterLoadAssignment& cla) {
  std::vector<Host> hosts;
  for (const auto& l : cla.endpoints()) {
    for (const auto& lb : l.lb_endpoints()) {
      auto h = hostOf(lb.endpoint().address().socket_address());
      if (!h.ok()) continue;
      h->hostname = lb.endpoint().hostname();
      if (lb.has_load_balancing_weight()) h->weight = lb.load_balancing_weight().value();
      auto hs = lb.health_status();
      h->edsUnhealthy = hs == envoy::config::core::v3::UNHEALTHY || hs == envoy::config::core::v3::DRAINING ||
                        hs == envoy::config::core::v3::TIMEOUT;
      hosts.push_back(*h);
    }
  }
  setHosts(e, keepingHealthyRemoved(e, std::move(hosts)));
}

void ConfigManager::carryOver(const std::string& cluster, const std::string& from, const std::string& to) {
  if (from == to) return;
  auto move = [&](auto& perCluster) {
    auto& m = perCluster[cluster];
    if (auto n = m.extract(from)) {
      if constexpr (requires { n.key(); }) {
        n.key() = to;
      } else {
        n.value() = to;
      }
      m.insert(std::move(n));
    }
  };
  move(failedHc_);
  move(checkedHc_);
  move(ejected_);
  move(outliers_);
  move(hostStats_);
}

std::vector<Host> ConfigManager::keepingHealthyRemoved(const ClusterEntry& e, std::vector<Host> next) {
  if (e.proto->health_checks_size() == 0 || e.proto->ignore_health_on_host_removal()) return next;
  std::set<std::string> listed;
  for (const Host& h : next) listed.insert(hostKey(h));
  for (const Host& h : e.hosts) {
    if (listed.count(hostKey(h)) || h.failedActiveHc || h.pendingActiveHc || h.edsUnhealthy) continue;
    Host kept = h;
    kept.pendingDynamicRemoval = true;
    next.push_back(std::move(kept));
  }
  return next;
}

void ConfigManager::setHosts(ClusterEntry& e, std::vector<Host> hosts) {
  const std::string& name = e.proto->name();
  const auto& failed = failedHc_[name];
  const auto& checked = checkedHc_[name];
  bool activeHc = e.proto->health_checks_size() > 0;
  const auto& ejected = ejected_[name];
  auto& outliers = outliers_[name];
  bool detect = e.proto->has_outlier_detection();
  // A host's counters live as long as it does (one that leaves and comes back starts at 0).
  auto& stats = hostStats_[name];
  std::map<std::string, std::shared_ptr<HostStats>> kept;
  for (Host& h : hosts) {
    auto& s = kept[hostKey(h)];
    if (!s) s = stats.count(hostKey(h)) ? stats[hostKey(h)] : std::make_shared<HostStats>();
    h.stats = s;
    h.failedActiveHc = failed.count(hostKey(h)) > 0;
    h.pendingActiveHc = activeHc && !checked.count(hostKey(h));
    h.ejected = ejected.count(hostKey(h)) > 0;
    if (detect) {
      auto& state = outliers[hostKey(h)];
      if (!state) state = std::make_shared<HostOutlierState>();
      h.outlier = state;
    }
  }
  stats = std::move(kept);
  // A host that left and comes back is a new host to the health checker, as Envoy's: no verdict.
  std::erase_if(failedHc_[name], [&stats](const std::string& k) { return !stats.count(k); });
  std::erase_if(checkedHc_[name], [&stats](const std::string& k) { return !stats.count(k); });
  e.hosts = std::move(hosts);
}

bool ConfigManager::setHostEjected(const std::string& cluster, const std::string& key, bool eject) {
  auto it = clusters_.find(cluster);
  auto& set = ejected_[cluster];
  if (auto o = outliers_[cluster].find(key); o != outliers_[cluster].end()) o->second->consecutive5xx = 0;
  if (eject ? !set.insert(key).second : set.erase(key) == 0) return eject;
  if (it != clusters_.end()) {
    setHosts(it->second, it->second.hosts);
    publish();
  }
  return true;
}

bool ConfigManager::ejectionWithinLimit(const std::string& cluster) const {
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return false;
  // As Envoy: one more ejected host must stay within max_ejection_percent (10 by default: a cluster
  // of fewer than ten hosts then ejects none).
  const auto& od = it->second.proto->outlier_detection();
  uint64_t maxPercent = std::min<uint64_t>(
      runtime_->getInteger("outlier_detection.max_ejection_percent",
                           od.has_max_ejection_percent() ? od.max_ejection_percent().value() : 10),
      100);
  auto ejected = ejected_.find(cluster);
  size_t now = ejected == ejected_.end() ? 0 : ejected->second.size();
  return (now + 1) * 100 <= maxPercent * it->second.hosts.size();
}

const envoy::config::cluster::v3::OutlierDetection* ConfigManager::outlierDetection(const std::string& cluster) const {
  auto it = clusters_.find(cluster);
  if (it == clusters_.end() || !it->second.proto->has_outlier_detection()) return nullptr;
  return &it->second.proto->outlier_detection();
}

void ConfigManager::onDnsResolved(const std::string& cluster, bool failed, const std::vector<std::string>& addresses) {
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  ClusterEntry& e = it->second;
  bool strict = e.proto->type() == Cluster::STRICT_DNS;
  e.hostsKnown = true;  // Envoy warms a DNS cluster after its first resolution, whatever the outcome
  e.stats->update_attempt++;
  (failed ? e.stats->update_failure : e.stats->update_success)++;
  std::vector<Host> before = e.hosts;
  if (!failed && (strict || !addresses.empty())) {
    const auto& named = e.proto->load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
    std::vector<Host> hosts;
    for (const auto& a : addresses) {
      envoy::config::core::v3::SocketAddress sa;
      sa.set_address(a);
      sa.set_port_value(named.port_value());
      auto h = hostOf(sa);
      if (!h.ok()) continue;
      h->hostname = named.address();  // as Envoy: each address of the answer is a host of that name
      hosts.push_back(*h);
      if (!strict) break;  // LOGICAL_DNS connects to the first address of the answer
    }
    if (!strict && !hosts.empty() && !e.hosts.empty()) carryOver(cluster, hostKey(e.hosts[0]), hostKey(hosts[0]));
    setHosts(e, strict ? keepingHealthyRemoved(e, std::move(hosts)) : std::move(hosts));
  }
  if (!failed && sameHosts(before, e.hosts)) e.stats->update_no_rebuild++;
  publish();
}

void ConfigManager::setHostFailedActiveHc(const std::string& cluster, const std::string& key, bool failed) {
  auto& set = failedHc_[cluster];
  bool first = checkedHc_[cluster].insert(key).second;
  if ((failed ? !set.insert(key).second : set.erase(key) == 0) && !first) return;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  if (failed) {  // a host discovery dropped goes once it fails
    std::erase_if(it->second.hosts, [&key](const Host& h) { return h.pendingDynamicRemoval && hostKey(h) == key; });
  }
  setHosts(it->second, it->second.hosts);
  publish();
}

std::vector<std::string> ConfigManager::endpointNames() const {
  std::set<std::string> names;
  for (const auto& [n, e] : clusters_) {
    if (!e.edsName.empty()) names.insert(e.edsName);
  }
  return {names.begin(), names.end()};
}

void ConfigManager::setInitialFetchTimeouts(std::chrono::milliseconds cds, std::chrono::milliseconds lds) {
  cdsFetchTimeout_ = cds;
  ldsFetchTimeout_ = lds;
}

void ConfigManager::expireInitialFetches(std::chrono::steady_clock::time_point now) {
  auto overdue = [now](std::chrono::steady_clock::time_point since, std::chrono::milliseconds timeout) {
    return timeout.count() > 0 && now - since >= timeout;
  };
  bool changed = false;
  if (!cdsSeen_ && overdue(started_, cdsFetchTimeout_)) changed = cdsSeen_ = true;
  for (auto& [name, e] : clusters_) {
    if (!e.edsName.empty() && !e.hostsKnown && overdue(e.since, e.edsFetchTimeout)) {
      changed = e.hostsKnown = true;
      updateWarm(e);
    }
  }
  bool clustersWarm = std::all_of(clusters_.begin(), clusters_.end(), [](const auto& kv) { return kv.second.warm; });
  if (!ldsWaitStart_ && cdsSeen_ && clustersWarm) ldsWaitStart_ = now;
  if (!ldsSeen_ && ldsWaitStart_ && overdue(*ldsWaitStart_, ldsFetchTimeout_)) changed = ldsSeen_ = true;
  for (auto& [name, l] : listeners_) {
    for (const FilterChainView& c : l.latest->chains) {
      if (c.http && !routes_.count(c.routeConfigName) && overdue(l.since, c.rdsFetchTimeout)) {
        auto empty = std::make_shared<envoy::config::route::v3::RouteConfiguration>();
        empty->set_name(c.routeConfigName);
        routes_[c.routeConfigName] = std::move(empty);
        changed = true;
      }
    }
  }
  if (changed) publish();
}

bool ConfigManager::initialized() const {
  if (live_) return true;  // like Envoy's LIVE, it stays once reached
  if (!cdsSeen_ || !ldsSeen_) return false;
  for (const auto& [n, e] : clusters_) {
    if (!e.warm) return false;
  }
  for (const auto& [n, l] : listeners_) {
    if (!listenerWarm(*l.latest)) return false;
  }
  live_ = true;
  return true;
}

ConfigManager::Counts ConfigManager::counts() const {
  Counts n;
  for (const auto& [name, e] : clusters_) {
    if (e.warm || e.active) ++n.activeClusters;
    if (!e.warm) ++n.warmingClusters;
  }
  for (const auto& [name, l] : listeners_) {
    if (l.active) ++n.activeListeners;
    if (!listenerWarm(*l.latest)) ++n.warmingListeners;
  }
  return n;
}

std::vector<std::shared_ptr<const Cluster>> ConfigManager::clusterProtos() const {
  std::vector<std::shared_ptr<const Cluster>> out;
  for (const auto& [n, e] : clusters_) out.push_back(e.proto);
  return out;
}

std::vector<ConfigManager::DumpedCluster> ConfigManager::dumpClusters() const {
  std::vector<DumpedCluster> out;
  for (const auto& [n, e] : clusters_) out.push_back({e.proto, !e.warm, e.updated, e.version.value_or("")});
  return out;
}

void ConfigManager::setVersion(const std::string& typeUrl, const std::string& v) {
  versions_[typeUrl] = v;
  auto stamp = [&v](std::optional<std::string>& version) {
    if (!version) version = v;
  };
  if (typeUrl == kClusterType) {
    for (auto& [n, e] : clusters_) stamp(e.version);
  } else if (typeUrl == kListenerType) {
    for (auto& [n, l] : listeners_) {
      stamp(l.version);
      if (l.active == l.latest) l.activeVersion = *l.version;
    }
  } else if (typeUrl == kRouteType) {
    for (auto& [n, version] : routesVersion_) stamp(version);
  }
}

std::string ConfigManager::versionOf(const std::string& typeUrl) const {
  auto it = versions_.find(typeUrl);
  return it == versions_.end() ? "" : it->second;
}

void ConfigManager::updateWarm(ClusterEntry& e) {
  if (e.warm || !e.hostsKnown) return;
  if (e.proto->health_checks_size() > 0) {
    const auto& checked = checkedHc_[e.proto->name()];
    for (const Host& h : e.hosts) {
      if (!checked.count(hostKey(h))) return;
    }
  }
  e.warm = true;
}

std::vector<ConfigManager::HealthCheckTarget> ConfigManager::healthCheckTargets() const {
  std::vector<HealthCheckTarget> out;
  for (const auto& [name, e] : clusters_) {
    if (e.proto->health_checks_size() > 0) out.push_back({e.proto, e.hosts, e.stats});
  }
  return out;
}

bool ConfigManager::covers(Covered c, const envoy::config::listener::v3::Listener& l) {
  return c == Covered::kAll || (c == Covered::kInbound && l.traffic_direction() == envoy::config::core::v3::INBOUND);
}

void ConfigManager::stopListeners(bool inboundOnly) {
  if (stopped_ != Covered::kAll) stopped_ = inboundOnly ? Covered::kInbound : Covered::kAll;
  publish();
}

void ConfigManager::drainListeners(bool inboundOnly) {
  if (draining_ != Covered::kAll) draining_ = inboundOnly ? Covered::kInbound : Covered::kAll;
  publish();
}

void ConfigManager::setRuntime(RuntimeSnapshotPtr runtime) {
  runtime_ = std::move(runtime);
  publish();
}

void ConfigManager::publish() {
  auto c = std::make_shared<Config>();
  for (auto& [name, e] : clusters_) {
    updateWarm(e);
    if (!e.warm) {
      if (e.active) c->clusters[name] = e.active;
      continue;
    }
    auto v = std::make_shared<ClusterView>();
    v->name = name;
    if (e.proto->has_connect_timeout()) v->connectTimeout = toMillis(e.proto->connect_timeout());
    // As Envoy's load balancer: the configured percent made a whole one (Envoy's convertPercent,
    // which truncates, float error included: 29 gives 28), which the runtime may override, at most 100.
    uint64_t panic = 50;
    if (e.proto->common_lb_config().has_healthy_panic_threshold()) {
      double percent = std::clamp(e.proto->common_lb_config().healthy_panic_threshold().value(), 0.0, 100.0);
      panic = static_cast<uint64_t>(100 * (percent / 100.0));
    }
    v->panicThresholdPercent = static_cast<double>(std::min<uint64_t>(runtime_->getInteger("upstream.healthy_panic_threshold", panic), 100));
    v->hosts = e.hosts;
    v->stats = e.stats;
    v->originalDst = e.originalDstHosts != nullptr;
    v->originalDstHosts = e.originalDstHosts;
    v->edsServiceName = e.edsName;
    if (auto p = protocolOf(*e.proto); p.ok()) {  // checked when the cluster came
      v->http2 = p->http2.has_value();
      if (p->http2) v->http2Settings = *p->http2;
      v->options = p->options;
    }
    if (e.proto->lb_policy() == Cluster::LEAST_REQUEST) v->lbPolicy = LbPolicy::kLeastRequest;
    if (e.proto->has_outlier_detection()) {
      const auto& od = e.proto->outlier_detection();
      auto setting = [&](const char* key, bool has, uint32_t configured, uint32_t fallback) {
        return static_cast<uint32_t>(std::min<uint64_t>(runtime_->getInteger(key, has ? configured : fallback), UINT32_MAX));
      };
      v->outlierDetection = true;
      v->consecutive5xx = setting("outlier_detection.consecutive_5xx", od.has_consecutive_5xx(), od.consecutive_5xx().value(), 5);
      v->consecutiveGatewayFailure = setting("outlier_detection.consecutive_gateway_failure", od.has_consecutive_gateway_failure(),
                                             od.consecutive_gateway_failure().value(), 5);
    }
    for (const auto& t : e.proto->circuit_breakers().thresholds()) {
      CircuitBreakers& b = t.priority() == envoy::config::core::v3::HIGH ? v->highPriorityBreakers : v->breakers;
      if (t.has_max_requests()) b.maxRequests = t.max_requests().value();
      if (t.has_max_connections()) b.maxConnections = t.max_connections().value();
      if (t.has_max_pending_requests()) b.maxPendingRequests = t.max_pending_requests().value();
      if (t.has_max_retries()) b.maxRetries = t.max_retries().value();
    }
    size_t healthy = 0;
    for (const Host& h : e.hosts) healthy += h.healthy() ? 1 : 0;
    e.stats->health_check_healthy = healthy;
    e.stats->membership_healthy = healthy;
    e.stats->membership_total = e.hosts.size();
    e.active = v;
    c->clusters[name] = std::move(v);
  }
  for (auto& [name, l] : listeners_) {
    if (listenerWarm(*l.latest) && l.active != l.latest) {
      l.active = l.latest;
      l.activeUpdated = l.updated;
      l.activeVersion = l.version.value_or(versionOf(std::string(kListenerType)));
    }
    if (!l.active) continue;
    if (covers(stopped_, *l.active->proto)) {
      if (l.active->sockets) l.active->sockets->stop();
      c->stoppedListeners.insert(name);
      continue;
    }
    if (covers(draining_, *l.active->proto)) c->drainingListeners.insert(name);
    c->listeners[name] = l.active;
  }
  c->routes = routes_;
  current_ = c;
  publish_(current_);
}

}  // namespace meshd::proxy
