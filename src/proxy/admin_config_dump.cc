#include "proxy/admin_config_dump.h"

#include <envoy/admin/v3/config_dump.pb.h>
#include <envoy/config/bootstrap/v3/bootstrap.pb.h>
#include <envoy/config/endpoint/v3/endpoint.pb.h>
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/json_util.h>
#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "proxy/xds_types.h"

namespace meshd::proxy {

namespace {

namespace admin = envoy::admin::v3;
using google::protobuf::FieldMask;
using google::protobuf::Message;
using google::protobuf::util::FieldMaskUtil;
using SystemTime = std::chrono::system_clock::time_point;

google::protobuf::Timestamp timestamp(SystemTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  google::protobuf::Timestamp ts;
  ts.set_seconds(ms / 1000);
  ts.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return ts;
}

// As Envoy: every path must name fields of `m`; then `m` keeps only those.
bool trimTo(const FieldMask& mask, Message& m) {
  for (const auto& path : mask.paths()) {
    if (!FieldMaskUtil::GetFieldDescriptors(m.GetDescriptor(), path, nullptr)) return false;
  }
  FieldMaskUtil::TrimMessage(mask, &m);
  return true;
}

// An item of ?resource= under ?mask=, as Envoy's trimResourceMessage: a path that goes into the
// item's Any field ("cluster.name") applies, past it, to the message packed there.
bool trimItem(const FieldMask& mask, Message& item) {
  const auto* descriptor = item.GetDescriptor();
  const auto* reflection = item.GetReflection();
  FieldMask outer, inner;
  const google::protobuf::FieldDescriptor* anyField = nullptr;
  for (const auto& path : mask.paths()) {
    std::string first = path.substr(0, path.find('.'));
    const auto* field = descriptor->FindFieldByName(first);
    bool intoAny = field && field->message_type() && !field->is_repeated() &&
                   field->message_type()->full_name() == "google.protobuf.Any";
    if (!intoAny) {
      outer.add_paths(path);
      continue;
    }
    if (anyField && anyField != field) return false;  // one Any field per item, as Envoy
    anyField = field;
    outer.add_paths(first);
    inner.add_paths(path.size() > first.size() ? path.substr(first.size() + 1) : "");
  }
  if (anyField && reflection->HasField(item, anyField)) {
    auto& any = static_cast<google::protobuf::Any&>(*reflection->MutableMessage(&item, anyField));
    std::string type = any.type_url().substr(any.type_url().rfind('/') + 1);
    const auto* packed = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
    if (!packed) return false;
    std::unique_ptr<Message> m(google::protobuf::MessageFactory::generated_factory()->GetPrototype(packed)->New());
    if (!any.UnpackTo(m.get()) || !trimTo(inner, *m)) return false;
    any.PackFrom(*m);
  }
  return trimTo(outer, item);
}

bool named(const RE2* names, const std::string& name) { return !names || RE2::PartialMatch(name, *names); }

// A ClusterLoadAssignment of the hosts a cluster serves with now, as Envoy's dumpEndpointConfigs
// builds it (health as the load balancer sees it, the overprovisioning factor).
envoy::config::endpoint::v3::ClusterLoadAssignment assignmentOf(const std::string& name, const std::vector<Host>& hosts) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(name);
  cla.mutable_policy()->mutable_overprovisioning_factor()->set_value(140);
  if (hosts.empty()) return cla;
  auto* locality = cla.add_endpoints();
  locality->mutable_locality();
  for (const Host& h : hosts) {
    auto* lb = locality->add_lb_endpoints();
    lb->mutable_load_balancing_weight()->set_value(h.weight);
    lb->set_health_status(h.healthy() ? envoy::config::core::v3::HEALTHY : envoy::config::core::v3::UNHEALTHY);
    auto* endpoint = lb->mutable_endpoint();
    endpoint->set_hostname(h.hostname);
    auto* sa = endpoint->mutable_address()->mutable_socket_address();
    sa->set_address(h.address);
    sa->set_port_value(h.port);
    endpoint->mutable_health_check_config();
  }
  return cla;
}

// The sections, in Envoy's order: bootstrap, clusters, endpoints, listeners, scoped routes,
// routes, secrets.
std::vector<std::unique_ptr<Message>> sections(const AdminContext& ctx, const RE2* names, bool includeEds) {
  std::vector<std::unique_ptr<Message>> out;
  SystemTime started = ctx.startedAt;
  const ConfigManager& config = *ctx.config;

  auto bootstrap = std::make_unique<admin::BootstrapConfigDump>();
  if (ctx.bootstrap) *bootstrap->mutable_bootstrap() = *ctx.bootstrap;
  *bootstrap->mutable_last_updated() = timestamp(started);
  out.push_back(std::move(bootstrap));

  auto clusters = std::make_unique<admin::ClustersConfigDump>();
  std::string cdsVersion = config.versionOf(std::string(kClusterType));
  clusters->set_version_info(cdsVersion);
  if (ctx.bootstrap) {
    for (const auto& c : ctx.bootstrap->static_resources().clusters()) {
      if (!named(names, c.name())) continue;
      auto* s = clusters->add_static_clusters();
      s->mutable_cluster()->PackFrom(c);
      *s->mutable_last_updated() = timestamp(started);
    }
  }
  for (const auto& c : config.dumpClusters()) {
    if (!named(names, c.proto->name())) continue;
    auto* d = c.warming ? clusters->add_dynamic_warming_clusters() : clusters->add_dynamic_active_clusters();
    d->set_version_info(c.version);
    d->mutable_cluster()->PackFrom(*c.proto);
    *d->mutable_last_updated() = timestamp(c.updated);
  }
  out.push_back(std::move(clusters));

  auto serving = config.current();
  bool staticClusters = ctx.bootstrap && ctx.bootstrap->static_resources().clusters_size() > 0;
  if (includeEds && (staticClusters || !serving->clusters.empty())) {  // as Envoy: when it has clusters
    auto endpoints = std::make_unique<admin::EndpointsConfigDump>();
    if (ctx.bootstrap) {
      for (const auto& c : ctx.bootstrap->static_resources().clusters()) {
        if (!named(names, c.name())) continue;
        auto cla = c.load_assignment();
        cla.set_cluster_name(c.name());
        for (auto& l : *cla.mutable_endpoints()) {
          for (auto& lb : *l.mutable_lb_endpoints()) lb.set_health_status(envoy::config::core::v3::HEALTHY);
        }
        endpoints->add_static_endpoint_configs()->mutable_endpoint_config()->PackFrom(cla);
      }
    }
    for (const auto& [name, view] : serving->clusters) {
      std::string claName = view->edsServiceName.empty() ? name : view->edsServiceName;
      if (!named(names, claName)) continue;
      endpoints->add_dynamic_endpoint_configs()->mutable_endpoint_config()->PackFrom(assignmentOf(claName, view->hosts));
    }
    out.push_back(std::move(endpoints));
  }

  auto listeners = std::make_unique<admin::ListenersConfigDump>();
  std::string ldsVersion = config.versionOf(std::string(kListenerType));
  listeners->set_version_info(ldsVersion);
  for (const auto& l : config.dumpListeners()) {
    if (!named(names, l.name)) continue;
    auto* d = listeners->add_dynamic_listeners();
    d->set_name(l.name);
    auto state = [&](admin::ListenersConfigDump::DynamicListenerState* s, const auto& proto, SystemTime updated,
                     const std::string& version) {
      s->set_version_info(version);
      s->mutable_listener()->PackFrom(*proto);
      *s->mutable_last_updated() = timestamp(updated);
    };
    if (l.active) state(d->mutable_active_state(), l.active, l.activeUpdated, l.activeVersion);
    if (l.warming) state(d->mutable_warming_state(), l.warming, l.warmingUpdated, l.warmingVersion);
  }
  out.push_back(std::move(listeners));

  out.push_back(std::make_unique<admin::ScopedRoutesConfigDump>());

  auto routes = std::make_unique<admin::RoutesConfigDump>();
  for (const auto& r : config.dumpRoutes()) {
    if (!named(names, r.proto->name())) continue;
    if (r.inlined) {
      auto* s = routes->add_static_route_configs();
      s->mutable_route_config()->PackFrom(*r.proto);
      *s->mutable_last_updated() = timestamp(r.updated);
    } else {
      auto* d = routes->add_dynamic_route_configs();
      d->set_version_info(r.version);
      d->mutable_route_config()->PackFrom(*r.proto);
      *d->mutable_last_updated() = timestamp(r.updated);
    }
  }
  out.push_back(std::move(routes));

  out.push_back(std::make_unique<admin::SecretsConfigDump>());
  return out;
}

AdminResponse textError(unsigned status, std::string body) { return {status, "text/plain", std::move(body)}; }

}  // namespace

AdminResponse configDump(const AdminContext& ctx, const std::map<std::string, std::string>& params) {
  auto param = [&](const char* key) -> const std::string* {
    auto it = params.find(key);
    return it == params.end() ? nullptr : &it->second;
  };
  std::unique_ptr<RE2> names;
  if (const std::string* re = param("name_regex"); re && !re->empty()) {
    names = std::make_unique<RE2>(*re, RE2::Quiet);
    if (!names->ok()) {
      return textError(400, "INVALID_ARGUMENT: Error while parsing name_regex from " + *re + ": Invalid regex '" + *re +
                                "': " + names->error());
    }
  }
  const std::string* mask = param("mask");
  FieldMask fieldMask;
  if (mask) FieldMaskUtil::FromString(*mask, &fieldMask);
  admin::ConfigDump dump;
  auto all = sections(ctx, names.get(), param("include_eds") != nullptr);
  if (const std::string* resource = param("resource")) {
    bool found = false;
    for (auto& section : all) {
      const auto* field = section->GetDescriptor()->FindFieldByName(*resource);
      if (!field) continue;
      if (!field->is_repeated()) {
        return textError(400, field->name() + " is not a repeated field. Use ?mask=" + field->name() + " to get only this field");
      }
      const auto* reflection = section->GetReflection();
      for (int i = 0; i < reflection->FieldSize(*section, field); ++i) {
        const Message& each = reflection->GetRepeatedMessage(*section, field, i);
        std::unique_ptr<Message> item(each.New());
        item->CopyFrom(each);
        if (mask && !trimItem(fieldMask, *item)) {
          return textError(400, "FieldMask " + fieldMask.DebugString() + " could not be successfully used.");
        }
        dump.add_configs()->PackFrom(*item);
      }
      found = true;
      break;
    }
    if (!found) return textError(404, *resource + " not found in config dump");
  } else {
    for (auto& section : all) {
      // Sections the mask does not fit are left out (each has its own fields), as Envoy.
      if (mask && !trimTo(fieldMask, *section)) continue;
      dump.add_configs()->PackFrom(*section);
    }
    if (mask && dump.configs().empty()) {
      return textError(400, "FieldMask " + *mask + " could not be successfully applied to any configs.");
    }
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(dump, &out, o);
  if (!status.ok()) return textError(500, "cannot print the config dump: " + std::string(status.message()));
  return {200, "application/json", out};
}

}  // namespace meshd::proxy
