#include "xds/snapshot.h"

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <set>

#include "common/encoding.h"
#include "xds/resource_types.h"

namespace meshd::xds {

using envoy::config::cluster::v3::Cluster;
using envoy::config::listener::v3::Listener;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

namespace {

constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com/";

// Map fields serialize in hash order unless asked otherwise; the version must not depend on it.
std::string deterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }  // the stream flushes into `out` when destroyed
  return out;
}

// The route configurations a listener's HTTP connection managers fetch over RDS.
Status routeNamesOf(const Resource& r, std::set<std::string>* names) {
  Listener listener;
  if (!r.body.UnpackTo(&listener)) return badRequest("listener " + r.name + " is not a Listener");
  auto scan = [&](const envoy::config::listener::v3::FilterChain& chain) -> Status {
    for (const auto& filter : chain.filters()) {
      if (!filter.typed_config().Is<HttpConnectionManager>()) continue;
      HttpConnectionManager hcm;
      if (!filter.typed_config().UnpackTo(&hcm)) {
        return badRequest("listener " + r.name + ": filter " + filter.name() + " is not a valid HttpConnectionManager");
      }
      if (hcm.has_rds()) names->insert(hcm.rds().route_config_name());
    }
    return okStatus();
  };
  for (const auto& chain : listener.filter_chains()) MESHD_RETURN_IF_ERROR(scan(chain));
  if (listener.has_default_filter_chain()) MESHD_RETURN_IF_ERROR(scan(listener.default_filter_chain()));
  return okStatus();
}

// The resources are visited in name order, so the same set always hashes the same way. NUL
// separates the fields, so no two different sets frame to the same bytes.
template <typename Visit>
std::string hashPairs(Visit visit) {
  std::string pairs;
  bool any = false;
  visit([&](const std::string& name, const Resource& r) {
    any = true;
    pairs.append(name).push_back('\0');
    pairs.append(r.version).push_back('\0');
  });
  return any ? fingerprint(pairs) : "";
}

}  // namespace

std::string Snapshot::versionOf(std::string_view typeUrl) const {
  const auto* set = ofType(typeUrl);
  if (set == nullptr) return "";
  return hashPairs([&](auto&& add) {
    for (const auto& [name, resource] : *set) add(name, resource);
  });
}

std::string Snapshot::versionOf(std::string_view typeUrl, const std::set<std::string>& names) const {
  const auto* set = ofType(typeUrl);
  if (set == nullptr) return "";
  return hashPairs([&](auto&& add) {
    for (const std::string& name : names) {
      auto it = set->find(name);
      if (it != set->end()) add(name, it->second);
    }
  });
}

const std::map<std::string, Resource>* Snapshot::ofType(std::string_view typeUrl) const {
  auto it = resources.find(typeUrl);
  return it == resources.end() ? nullptr : &it->second;
}

Status Snapshot::checkConsistent() const {
  const auto* routes = ofType(kRouteType);
  const auto* endpoints = ofType(kEndpointType);
  if (const auto* listeners = ofType(kListenerType)) {
    for (const auto& [name, resource] : *listeners) {
      std::set<std::string> wanted;
      MESHD_RETURN_IF_ERROR(routeNamesOf(resource, &wanted));
      for (const std::string& route : wanted) {
        if (routes == nullptr || !routes->count(route)) {
          return badRequest("listener " + name + " names route configuration " + route + ", which is missing");
        }
      }
    }
  }
  if (const auto* clusters = ofType(kClusterType)) {
    for (const auto& [name, resource] : *clusters) {
      Cluster cluster;
      if (!resource.body.UnpackTo(&cluster)) return badRequest("cluster " + name + " is not a Cluster");
      if (cluster.cluster_discovery_type_case() != Cluster::kType || cluster.type() != Cluster::EDS) continue;
      // Envoy asks EDS for service_name when set, else for the cluster's own name.
      const std::string& wanted = cluster.eds_cluster_config().service_name().empty()
                                      ? cluster.name()
                                      : cluster.eds_cluster_config().service_name();
      if (endpoints == nullptr || !endpoints->count(wanted)) {
        return badRequest("EDS cluster " + name + " has no ClusterLoadAssignment " + wanted);
      }
    }
  }
  return okStatus();
}

Resource makeResource(const std::string& name, const google::protobuf::Message& message) {
  Resource r;
  r.name = name;
  std::string bytes = deterministicBytes(message);
  r.version = fingerprint(bytes);
  r.body.set_type_url(std::string(kTypeUrlPrefix) + message.GetDescriptor()->full_name());
  r.body.set_value(std::move(bytes));
  return r;
}

}  // namespace meshd::xds
