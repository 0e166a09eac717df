#pragma once
// The main thread's view of the configuration: applies xDS resources with Envoy's warming rules and
// publishes a fresh immutable Config to the workers whenever what they serve changes.
//   - A cluster is warm when its hosts are known: STATIC at once, EDS when its ClusterLoadAssignment
//     arrives, STRICT/LOGICAL_DNS after the first resolution.
//   - A listener is warm when every route configuration it names has arrived; until then the
//     previous version (if any) keeps serving.
//   - A response that cannot be applied is rejected whole (the caller NACKs) and changes nothing.
// Thread-safety: main thread only. What it publishes is immutable and may go to any thread.

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/config/route/v3/route.pb.h>
#include <google/protobuf/any.pb.h>
#include <google/protobuf/repeated_field.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "proxy/config.h"
#include "proxy/runtime.h"
#include "proxy/stats.h"

namespace meshd::proxy {

// A config source's initial_fetch_timeout: Envoy's 15 s when unset, 0 for no limit.
std::chrono::milliseconds initialFetchTimeout(const envoy::config::core::v3::ConfigSource& source);

class ConfigManager {
 public:
  using Publish = std::function<void(ConfigPtr)>;
  // Asked to (re)start resolving a DNS cluster; the result comes back through onDnsResolved.
  using StartDns = std::function<void(const envoy::config::cluster::v3::Cluster&)>;

  ConfigManager(size_t workers, StatsRegistry& stats, Publish publish, StartDns startDns);

  // Applies one DiscoveryResponse's resources of `typeUrl`. BadRequest with the reason to NACK.
  Status apply(const std::string& typeUrl, const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources);

  // Names to subscribe to for EDS and RDS, as the current clusters and listeners need them.
  std::vector<std::string> endpointNames() const;
  std::vector<std::string> routeNames() const;

  // A DNS cluster's resolution: `failed` keeps the hosts; otherwise STRICT_DNS replaces them (an
  // empty success removes every host) and LOGICAL_DNS keeps its last address on an empty success.
  void onDnsResolved(const std::string& cluster, bool failed, const std::vector<std::string>& addresses);
  // The xDS stream failed: each EDS cluster counts a failed update, as its subscription in Envoy.
  void subscriptionFailed();

  // Envoy's initial_fetch_timeout: a subscription with no answer this long after it began counts
  // as answered, empty, and initialization goes on (0: wait for ever; unset: 15 s). CDS and LDS
  // take theirs from the bootstrap (set here), EDS from the cluster's eds_config, RDS from the
  // connection manager's rds.config_source. An EDS cluster then has no hosts; a listener serves an
  // empty route configuration (404) until its own arrives.
  void setInitialFetchTimeouts(std::chrono::milliseconds cds, std::chrono::milliseconds lds);
  // Gives up on the first answers overdue at `now`; publishes when that warmed something.
  void expireInitialFetches(std::chrono::steady_clock::time_point now);

  // The active health checker's verdict on a host ("address:port").
  void setHostFailedActiveHc(const std::string& cluster, const std::string& hostKey, bool failed);

  // Outlier detection: ejects a host or returns it (false when the cluster is gone). The host's
  // consecutive-5xx count starts over either way.
  bool setHostEjected(const std::string& cluster, const std::string& hostKey, bool ejected);
  // Whether one more ejected host stays within max_ejection_percent of the cluster's hosts.
  bool ejectionWithinLimit(const std::string& cluster) const;
  // The cluster's outlier_detection; nullptr when it has none or is gone. Valid until the next update.
  const envoy::config::cluster::v3::OutlierDetection* outlierDetection(const std::string& cluster) const;

  // Envoy's POST /drain_listeners, for every listener or the INBOUND ones (later ones too): they stop
  // accepting, their connections go on. With `graceful`, their connections first drain (as Envoy's
  // --drain-strategy immediate: `connection: close`, GOAWAY) while they still accept; stopListeners
  // then ends it, after the drain time.
  void stopListeners(bool inboundOnly);
  void drainListeners(bool inboundOnly);

  // The runtime's values (runtime.h), which override some of a cluster's settings
  // (upstream.healthy_panic_threshold, outlier_detection.*); publishes with them.
  void setRuntime(RuntimeSnapshotPtr runtime);
  const RuntimeSnapshot& runtime() const { return *runtime_; }

  // True once clusters and listeners have arrived and everything was warm (Envoy's LIVE); stays true.
  bool initialized() const;
  ConfigPtr current() const { return current_; }

  // The clusters with active health checks and their hosts, warm or not: a warming cluster's
  // hosts are checked too, and their first verdicts finish its warming.
  struct HealthCheckTarget {
    std::shared_ptr<const envoy::config::cluster::v3::Cluster> proto;
    std::vector<Host> hosts;
    std::shared_ptr<ClusterStats> stats;
  };
  std::vector<HealthCheckTarget> healthCheckTargets() const;

  // What is serving and what is warming (a changed cluster or listener may be both), for the
  // admin's cluster_manager.* and listener_manager.* gauges.
  struct Counts {
    size_t activeClusters = 0, warmingClusters = 0, activeListeners = 0, warmingListeners = 0;
  };
  Counts counts() const;

  // What /config_dump shows (admin_config_dump.h): each resource with when it last changed.
  using SystemTime = std::chrono::system_clock::time_point;
  struct DumpedCluster {
    std::shared_ptr<const envoy::config::cluster::v3::Cluster> proto;
    bool warming = false;
    SystemTime updated;
    std::string version;  // of the response that brought this version of it
  };
  struct DumpedListener {
    std::string name;
    std::shared_ptr<const envoy::config::listener::v3::Listener> active, warming;  // either may be null
    SystemTime activeUpdated, warmingUpdated;
    std::string activeVersion, warmingVersion;
  };
  struct DumpedRoutes {
    std::shared_ptr<const envoy::config::route::v3::RouteConfiguration> proto;
    bool inlined = false;  // a listener's route_config, not RDS's
    SystemTime updated;
    std::string version;
  };
  std::vector<DumpedCluster> dumpClusters() const;
  std::vector<DumpedListener> dumpListeners() const;
  std::vector<DumpedRoutes> dumpRoutes() const;

  // For the admin endpoints and the outlier detector.
  std::vector<std::shared_ptr<const envoy::config::cluster::v3::Cluster>> clusterProtos() const;
  std::vector<std::shared_ptr<const envoy::config::listener::v3::Listener>> listenerProtos() const;
  std::string versionOf(const std::string& typeUrl) const;
  // The version of the response just applied: the type's, and that of each resource it changed.
  void setVersion(const std::string& typeUrl, const std::string& v);

 private:
  struct ClusterEntry {
    std::shared_ptr<const envoy::config::cluster::v3::Cluster> proto;
    std::string edsName;  // EDS: the name endpoints arrive under
    bool hostsKnown = false;  // static, or the first EDS assignment or DNS answer came
    // Envoy's warming: hosts known and, with active health checks, a first verdict for each of
    // those hosts (hosts that come later start pending). Latched by updateWarm().
    bool warm = false;
    std::vector<Host> hosts;
    std::shared_ptr<ClusterStats> stats;
    std::shared_ptr<OriginalDstHosts> originalDstHosts;  // ORIGINAL_DST only
    // What workers were last given for this name: a changed cluster is a new cluster, warmed from
    // scratch, and until it is warm the previous version keeps serving (as Envoy does).
    std::shared_ptr<const ClusterView> active;
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();  // EDS: waiting since
    std::chrono::milliseconds edsFetchTimeout{15000};
    SystemTime updated = std::chrono::system_clock::now();  // this version's arrival
    std::optional<std::string> version;  // its response's, set once that is applied
  };
  struct ListenerEntry {
    std::shared_ptr<ListenerView> latest;
    std::shared_ptr<const ListenerView> active;  // last warm version, what workers serve
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();  // latest built
    SystemTime updated = std::chrono::system_clock::now();  // latest's arrival
    SystemTime activeUpdated;                                 // active's
    std::optional<std::string> version;                       // latest's response's
    std::string activeVersion;
  };

  Status applyClusters(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources);
  Status applyEndpoints(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources);
  // The same hosts (address, port, EDS health, weight, hostname) in the same order.
  static bool sameHosts(const std::vector<Host>& a, const std::vector<Host>& b);
  Status applyListeners(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources);
  Status applyRoutes(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources);
  StatusOr<std::shared_ptr<ListenerView>> buildListener(const envoy::config::listener::v3::Listener& l,
                                                        const ListenerEntry* previous);
  void hostsFromAssignment(ClusterEntry& e, const envoy::config::endpoint::v3::ClusterLoadAssignment& cla);
  void setHosts(ClusterEntry& e, std::vector<Host> hosts);
  // `next`, what discovery lists now, plus the hosts it dropped that Envoy keeps until they fail a
  // health check: with active health checks and without ignore_health_on_host_removal, each that
  // has passed its checks (updateDynamicHostList's dont_remove_healthy_hosts).
  std::vector<Host> keepingHealthyRemoved(const ClusterEntry& e, std::vector<Host> next);
  // A LOGICAL_DNS cluster's one host whose address changed is the same host, as Envoy's logical
  // host: its health verdict, outlier state and counters follow it to the new address.
  void carryOver(const std::string& cluster, const std::string& from, const std::string& to);
  bool listenerWarm(const ListenerView& l) const;
  void updateWarm(ClusterEntry& e);
  // Which listeners a stop or a drain covers: none, the INBOUND ones, or all.
  enum class Covered { kNone, kInbound, kAll };
  static bool covers(Covered c, const envoy::config::listener::v3::Listener& l);
  void publish();

  size_t workers_;
  StatsRegistry& stats_;
  Publish publish_;
  StartDns startDns_;
  uint64_t nextGeneration_ = 1;
  bool cdsSeen_ = false;
  bool ldsSeen_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::milliseconds cdsFetchTimeout_{15000}, ldsFetchTimeout_{15000};
  // Envoy subscribes to LDS once the cluster manager is initialized (CDS, then its clusters warm):
  // LDS's initial_fetch_timeout counts from then.
  std::optional<std::chrono::steady_clock::time_point> ldsWaitStart_;
  mutable bool live_ = false;  // latched by initialized()
  Covered stopped_ = Covered::kNone;
  Covered draining_ = Covered::kNone;
  std::map<std::string, ClusterEntry> clusters_;
  std::map<std::string, envoy::config::endpoint::v3::ClusterLoadAssignment> endpoints_;
  std::map<std::string, ListenerEntry> listeners_;
  std::map<std::string, std::shared_ptr<const envoy::config::route::v3::RouteConfiguration>> routes_;
  std::map<std::string, SystemTime> routesUpdated_;  // when each last changed
  std::map<std::string, std::optional<std::string>> routesVersion_;  // and in which response
  std::map<std::string, std::set<std::string>> failedHc_;  // cluster -> hosts failing active HC
  std::map<std::string, std::set<std::string>> checkedHc_;  // cluster -> hosts with a first verdict
  std::map<std::string, std::set<std::string>> ejected_;   // cluster -> hosts ejected as outliers
  std::map<std::string, std::map<std::string, std::shared_ptr<HostOutlierState>>> outliers_;
  std::map<std::string, std::map<std::string, std::shared_ptr<HostStats>>> hostStats_;  // cluster -> host -> stats
  std::map<std::string, std::string> versions_;
  ConfigPtr current_ = std::make_shared<Config>();
  RuntimeSnapshotPtr runtime_ = std::make_shared<RuntimeSnapshot>();
};

}  // namespace meshd::proxy
