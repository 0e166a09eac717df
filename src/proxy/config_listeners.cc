// ConfigManager: listeners and route configurations.
#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "proxy/access_log.h"
#include "proxy/config_manager.h"
#include "proxy/listener_socket.h"
#include "proxy/route_match.h"
#include "proxy/xds_types.h"

namespace meshd::proxy {

using envoy::config::listener::v3::Listener;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

namespace {

// A connection manager's or TCP proxy's file access logs (other loggers are ignored, as Envoy would
// reject them only if it lacked the extension).
StatusOr<std::vector<std::shared_ptr<const AccessLog>>> accessLogs(
    const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>& logs) {
  std::vector<std::shared_ptr<const AccessLog>> out;
  for (const auto& a : logs) {
    envoy::extensions::access_loggers::file::v3::FileAccessLog file;
    if (!a.typed_config().UnpackTo(&file)) continue;
    StatusOr<AccessLogFormat> format = AccessLogFormat::text("");  // Envoy's default (the deprecated `format` field is not read)
    if (file.has_log_format()) {
      const auto& lf = file.log_format();
      if (lf.has_json_format()) {
        std::map<std::string, std::string> fields;
        for (const auto& [k, v] : lf.json_format().fields()) fields[k] = v.string_value();
        format = AccessLogFormat::json(fields);
      } else {
        format = AccessLogFormat::text(lf.text_format_source().inline_string());
      }
    }
    if (!format.ok()) return format.status();
    auto log = AccessLog::open(file.path(), std::move(*format));
    if (!log.ok()) return log.status();
    out.push_back(*log);
  }
  return out;
}

// The filter_chain_match fields meshproxy matches on; a chain using another is rejected, rather
// than matched as if the field were unset.
Status readChainMatch(const envoy::config::listener::v3::FilterChainMatch& m, FilterChainView& fc) {
  if (m.prefix_ranges_size() > 0 || m.direct_source_prefix_ranges_size() > 0 || m.source_prefix_ranges_size() > 0 ||
      m.source_ports_size() > 0 || m.application_protocols_size() > 0 ||
      m.source_type() != envoy::config::listener::v3::FilterChainMatch::ANY) {
    return badRequest("filter_chain_match supports only destination_port, server_names and transport_protocol");
  }
  if (m.has_destination_port()) fc.destinationPort = m.destination_port().value();
  for (const auto& name : m.server_names()) {
    std::string n = name;
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n.empty() || n.find('*', 1) != std::string::npos || (n[0] == '*' && !n.starts_with("*."))) {
      return badRequest("server name '" + name + "' must be a name or *.suffix");
    }
    fc.serverNames.push_back(std::move(n));
  }
  fc.transportProtocol = m.transport_protocol();
  return okStatus();
}

// Envoy rejects two chains with the same criteria: which one serves would be arbitrary.
// Envoy's listener stat prefix: the listener's stat_prefix, else its address as Envoy writes it
// with ':' made '_' ("0.0.0.0_15000", "[__]_15000").
std::string listenerStatPrefix(const Listener& l) {
  if (!l.stat_prefix().empty()) return l.stat_prefix();
  const auto& sa = l.address().socket_address();
  bool v6 = sa.address().find(':') != std::string::npos;
  std::string out = (v6 ? "[" + sa.address() + "]" : sa.address()) + ":" + std::to_string(sa.port_value());
  for (char& c : out) c = c == ':' ? '_' : c;
  return out;
}

std::string matchKey(const FilterChainView& fc) {
  std::vector<std::string> names = fc.serverNames;
  std::sort(names.begin(), names.end());
  std::string key = std::to_string(fc.destinationPort) + "|" + fc.transportProtocol;
  for (const auto& n : names) key += "|" + n;
  return key;
}

bool sameAddress(const Listener& a, const Listener& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a.address(), b.address());
}

}  // namespace

StatusOr<std::shared_ptr<ListenerView>> ConfigManager::buildListener(const Listener& l, const ListenerEntry* previous) {
  if (!l.address().has_socket_address()) return badRequest("listener " + l.name() + ": only socket addresses are supported");
  const auto& sa = l.address().socket_address();
  if (Status s = validateListenerAddress(sa); !s.ok()) return badRequest("listener " + l.name() + ": " + s.message());
  auto v = std::make_shared<ListenerView>();
  v->name = l.name();
  v->proto = std::make_shared<Listener>(l);
  for (const auto& f : l.listener_filters()) {
    if (f.name() == kOriginalDst) v->originalDst = true;
    if (f.name() == kTlsInspector) v->tlsInspector = true;
  }
  if (l.has_listener_filters_timeout()) v->listenerFiltersTimeout = toMillis(l.listener_filters_timeout());
  v->continueOnListenerFiltersTimeout = l.continue_on_listener_filters_timeout();
  std::set<std::string> matches;
  for (const auto& chain : l.filter_chains()) {
    FilterChainView fc;
    fc.name = chain.name();
    if (Status s = readChainMatch(chain.filter_chain_match(), fc); !s.ok()) return badRequest("listener " + l.name() + ": " + s.message());
    if (!matches.insert(matchKey(fc)).second) {
      return badRequest("listener " + l.name() + ": multiple filter chains with the same matching rules are defined");
    }
    bool found = false;
    for (const auto& f : chain.filters()) {
      if (f.name() == kHttpConnectionManager || f.typed_config().Is<hcm::HttpConnectionManager>()) {
        hcm::HttpConnectionManager m;
        if (!f.typed_config().UnpackTo(&m)) return badRequest("listener " + l.name() + ": bad http_connection_manager");
        fc.http = true;
        fc.statPrefix = m.stat_prefix();
        fc.httpStats = stats_.http(m.stat_prefix());
        if (!m.server_name().empty()) fc.server.name = m.server_name();
        if (m.common_http_protocol_options().has_idle_timeout()) {
          fc.connectionIdleTimeout = toMillis(m.common_http_protocol_options().idle_timeout());
          if (fc.connectionIdleTimeout.count() == 0) fc.connectionIdleTimeout = std::chrono::hours(24 * 365);
        }
        if (m.has_drain_timeout()) fc.drainTimeout = toMillis(m.drain_timeout());
        fc.acceptHttp10 = m.http_protocol_options().accept_http_10();
        fc.defaultHostForHttp10 = m.http_protocol_options().default_host_for_http_10();
        if (m.server_header_transformation() == hcm::HttpConnectionManager::APPEND_IF_ABSENT) {
          fc.server.mode = ServerHeader::kAppendIfAbsent;
        } else if (m.server_header_transformation() == hcm::HttpConnectionManager::PASS_THROUGH) {
          fc.server.mode = ServerHeader::kPassThrough;
        }
        auto logs = accessLogs(m.access_log());
        auto addAll = [](std::vector<std::string>& to, std::vector<std::string> names) {
          for (std::string& name : names) {
            if (std::find(to.begin(), to.end(), name) == to.end()) to.push_back(std::move(name));
          }
        };
        for (const auto& log : logs.ok() ? *logs : std::vector<std::shared_ptr<const AccessLog>>{}) {
          addAll(fc.loggedRequestFields, log->format().requestFields());
          addAll(fc.loggedResponseFields, log->format().responseFields());
          addAll(fc.loggedTrailerFields, log->format().trailerFields());
        }
        if (!logs.ok()) return badRequest("listener " + l.name() + ": " + logs.status().message());
        fc.accessLogs = std::move(*logs);
        if (m.has_rds()) {
          fc.routeConfigName = m.rds().route_config_name();
          fc.rdsFetchTimeout = initialFetchTimeout(m.rds().config_source());
        } else if (m.has_route_config()) {
          fc.routeConfigName = "inline:" + l.name() + ":" + m.route_config().name();
          routes_[fc.routeConfigName] = std::make_shared<envoy::config::route::v3::RouteConfiguration>(m.route_config());
          routesUpdated_[fc.routeConfigName] = std::chrono::system_clock::now();
        } else {
          return badRequest("listener " + l.name() + ": http_connection_manager without routes");
        }
        found = true;
      } else if (f.name() == kTcpProxy || f.typed_config().Is<envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy>()) {
        envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
        if (!f.typed_config().UnpackTo(&t)) return badRequest("listener " + l.name() + ": bad tcp_proxy");
        fc.http = false;
        if (t.has_weighted_clusters()) {
          for (const auto& c : t.weighted_clusters().clusters()) fc.tcpClusters.emplace_back(c.name(), c.weight());
        } else {
          fc.tcpClusters.emplace_back(t.cluster(), 1);
        }
        fc.statPrefix = t.stat_prefix();
        fc.tcpStats = stats_.tcp(t.stat_prefix());
        if (t.has_idle_timeout()) fc.tcpIdleTimeout = toMillis(t.idle_timeout());
        auto logs = accessLogs(t.access_log());
        if (!logs.ok()) return badRequest("listener " + l.name() + ": " + logs.status().message());
        fc.accessLogs = std::move(*logs);
        found = true;
      }
    }
    if (!found) return badRequest("listener " + l.name() + ": a filter chain has no http_connection_manager or tcp_proxy");
    v->chains.push_back(std::move(fc));
  }
  if (v->chains.empty()) return badRequest("listener " + l.name() + ": no filter chains");
  if (previous && previous->latest && sameAddress(*previous->latest->proto, l)) {
    v->sockets = previous->latest->sockets;
    v->generation = previous->latest->generation;
  } else {
    auto fds = bindListener(sa, workers_, /*listenNow=*/false);  // workers listen once it is warm
    if (!fds.ok()) return badRequest("listener " + l.name() + ": " + fds.status().message());
    v->sockets = std::make_shared<BoundSockets>(std::move(*fds));
    v->generation = nextGeneration_++;
  }
  v->stats = stats_.listener(listenerStatPrefix(l));  // only for a listener that is taken
  return v;
}

Status ConfigManager::applyListeners(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources) {
  std::map<std::string, ListenerEntry> next;
  for (const auto& any : resources) {
    Listener l;
    if (!any.UnpackTo(&l)) return badRequest("cannot unpack a Listener");
    if (next.count(l.name())) return badRequest("duplicate listener " + l.name());
    auto old = listeners_.find(l.name());
    const ListenerEntry* previous = old == listeners_.end() ? nullptr : &old->second;
    if (previous && google::protobuf::util::MessageDifferencer::Equals(*previous->latest->proto, l)) {
      next[l.name()] = *previous;
      continue;
    }
    // A failure here drops what was bound so far for this response; the old listeners stay.
    auto v = buildListener(l, previous);
    if (!v.ok()) return v.status();
    ListenerEntry e;
    e.latest = *v;
    if (previous) {
      e.active = previous->active;
      e.activeUpdated = previous->activeUpdated;
      e.activeVersion = previous->activeVersion;
    }
    next[l.name()] = std::move(e);
  }
  listeners_ = std::move(next);
  ldsSeen_ = true;
  return okStatus();
}

Status ConfigManager::applyRoutes(const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources) {
  std::vector<std::shared_ptr<envoy::config::route::v3::RouteConfiguration>> parsed;
  for (const auto& any : resources) {
    auto rc = std::make_shared<envoy::config::route::v3::RouteConfiguration>();
    if (!any.UnpackTo(rc.get())) return badRequest("cannot unpack a RouteConfiguration");
    if (auto bad = invalidRoutes(*rc, runtime_->getInteger("re2.max_program_size.error_level", 100))) return badRequest("route configuration " + rc->name() + ": " + *bad);
    parsed.push_back(rc);
  }
  for (auto& rc : parsed) {
    auto& kept = routes_[rc->name()];
    if (!kept || !google::protobuf::util::MessageDifferencer::Equals(*kept, *rc)) {
      routesUpdated_[rc->name()] = std::chrono::system_clock::now();
      routesVersion_[rc->name()].reset();
    }
    kept = rc;
  }
  return okStatus();
}

bool ConfigManager::listenerWarm(const ListenerView& l) const {
  for (const auto& c : l.chains) {
    if (c.http && !routes_.count(c.routeConfigName)) return false;
  }
  return true;
}

std::vector<std::string> ConfigManager::routeNames() const {
  std::set<std::string> names;
  for (const auto& [n, l] : listeners_) {
    for (const auto& c : l.latest->chains) {
      if (c.http && !c.routeConfigName.starts_with("inline:")) names.insert(c.routeConfigName);
    }
  }
  return {names.begin(), names.end()};
}

std::vector<ConfigManager::DumpedListener> ConfigManager::dumpListeners() const {
  std::vector<DumpedListener> out;
  for (const auto& [name, l] : listeners_) {
    DumpedListener d{name};
    if (l.active) d.active = l.active->proto, d.activeUpdated = l.activeUpdated, d.activeVersion = l.activeVersion;
    if (l.latest != l.active) d.warming = l.latest->proto, d.warmingUpdated = l.updated, d.warmingVersion = l.version.value_or("");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<ConfigManager::DumpedRoutes> ConfigManager::dumpRoutes() const {
  std::vector<DumpedRoutes> out;
  for (const auto& [name, rc] : routes_) {
    // What the initial fetch timeout stood in for (config_manager.cc) never arrived.
    auto updated = routesUpdated_.find(name);
    if (updated == routesUpdated_.end()) continue;
    auto version = routesVersion_.find(name);
    out.push_back({rc, name.starts_with("inline:"), updated->second,
                   version == routesVersion_.end() ? "" : version->second.value_or("")});
  }
  return out;
}

std::vector<std::shared_ptr<const Listener>> ConfigManager::listenerProtos() const {
  std::vector<std::shared_ptr<const Listener>> out;
  for (const auto& [n, l] : listeners_) out.push_back(l.latest->proto);
  return out;
}

}  // namespace meshd::proxy
