#pragma once
// Test-data builders for the xDS server's tests: real Envoy messages, shaped as the translator
// makes them (an EDS cluster and its endpoints, a listener whose HTTP connection manager uses RDS
// and its route configuration).

#include <envoy/config/cluster/v3/cluster.pb.h>
#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <envoy/config/listener/v3/listener.pb.h>
#include <envoy/config/route/v3/route.pb.h>
#include <envoy/extensions/filters/http/router/v3/router.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>

#include <memory>
#include <string>
#include <string_view>

#include "xds/resource_types.h"
#include "xds/snapshot.h"

namespace meshd::xds::testdata {

inline envoy::config::core::v3::ConfigSource ads() {
  envoy::config::core::v3::ConfigSource c;
  c.mutable_ads();
  c.set_resource_api_version(envoy::config::core::v3::V3);
  return c;
}

inline envoy::config::cluster::v3::Cluster edsCluster(const std::string& name) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  *c.mutable_eds_cluster_config()->mutable_eds_config() = ads();
  c.mutable_connect_timeout()->set_seconds(1);
  return c;
}

inline envoy::config::endpoint::v3::ClusterLoadAssignment endpoints(const std::string& cluster, uint32_t port) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(cluster);
  auto* address = cla.add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address();
  address->mutable_socket_address()->set_address("127.0.0.1");
  address->mutable_socket_address()->set_port_value(port);
  return cla;
}

inline envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager rdsManager(
    const std::string& routeName) {
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  hcm.set_stat_prefix("ingress");
  hcm.mutable_rds()->set_route_config_name(routeName);
  *hcm.mutable_rds()->mutable_config_source() = ads();
  auto* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

inline envoy::config::listener::v3::Listener httpListener(const std::string& name, const std::string& routeName,
                                                          uint32_t port = 15000) {
  envoy::config::listener::v3::Listener l;
  l.set_name(name);
  l.mutable_address()->mutable_socket_address()->set_address("0.0.0.0");
  l.mutable_address()->mutable_socket_address()->set_port_value(port);
  auto* filter = l.add_filter_chains()->add_filters();
  filter->set_name("envoy.filters.network.http_connection_manager");
  filter->mutable_typed_config()->PackFrom(rdsManager(routeName));
  return l;
}

inline envoy::config::route::v3::RouteConfiguration routeConfig(const std::string& name, const std::string& cluster) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name(name);
  auto* vhost = rc.add_virtual_hosts();
  vhost->set_name("all");
  vhost->add_domains("*");
  auto* route = vhost->add_routes();
  route->mutable_match()->set_prefix("/");
  route->mutable_route()->set_cluster(cluster);
  return rc;
}

inline void add(Snapshot& s, std::string_view type, const std::string& name, const google::protobuf::Message& m) {
  s.resources[std::string(type)][name] = makeResource(name, m);
}

// Clusters "a" and "b" (EDS) with endpoints on ports 8080 and 8081, listener "l" whose routes come
// from RDS as "r", and route configuration "r" sending everything to "a".
inline Snapshot baseSnapshot() {
  Snapshot s;
  add(s, kClusterType, "a", edsCluster("a"));
  add(s, kClusterType, "b", edsCluster("b"));
  add(s, kEndpointType, "a", endpoints("a", 8080));
  add(s, kEndpointType, "b", endpoints("b", 8081));
  add(s, kListenerType, "l", httpListener("l", "r"));
  add(s, kRouteType, "r", routeConfig("r", "a"));
  return s;
}

inline std::shared_ptr<const Snapshot> share(Snapshot s) { return std::make_shared<const Snapshot>(std::move(s)); }

}  // namespace meshd::xds::testdata
