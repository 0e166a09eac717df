#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include "proxy/admin.h"

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "proxy/access_log.h"
#include "proxy/admin_clusters.h"
#include "proxy/admin_config_dump.h"
#include "proxy/loggers.h"
#include "proxy/memory_stats.h"

namespace meshd::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using tcp = boost::asio::ip::tcp;

namespace {

// Envoy's server state: PRE_INITIALIZING until the first configuration is warm, then LIVE, or
// DRAINING while /healthcheck/fail holds.
std::string serverState(const AdminContext& ctx) {
  if (!ctx.config->initialized()) return "PRE_INITIALIZING";
  return *ctx.healthCheckFailed ? "DRAINING" : "LIVE";
}

// The query's parameters, percent-decoded ('+' is a space); a name given twice keeps its first
// value, as Envoy's parseQueryString.
std::map<std::string, std::string> queryParams(const std::string& target) {
  std::map<std::string, std::string> params;
  size_t q = target.find('?');
  if (q == std::string::npos) return params;
  auto decode = [](std::string_view raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
        out += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  };
  std::string_view query = std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    std::string_view p = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), p.size() + 1));
    if (p.empty()) continue;
    size_t eq = p.find('=');
    params.emplace(decode(p.substr(0, eq)), eq == std::string_view::npos ? std::string() : decode(p.substr(eq + 1)));
  }
  return params;
}

// The value of query parameter `key`; nullopt when absent.
std::optional<std::string> paramValue(const std::string& target, std::string_view key) {
  auto params = queryParams(target);
  auto it = params.find(std::string(key));
  if (it == params.end()) return std::nullopt;
  return it->second;
}

// Whether the query names `key` (as "key" or "key=...").
bool hasParam(const std::string& target, std::string_view key) { return paramValue(target, key).has_value(); }

// Envoy's Prometheus form: the tag-extracted name (stat_tags.h) as the metric, its tags as labels,
// names with '.' as '_': cluster.c.upstream_rq_503 is
// envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="c"}.
std::string prometheus(const TagProducer& tags, const StatValues& stats,
                       const std::vector<StatsRegistry::NamedHistogram>& histograms) {
  auto underscored = [](std::string s) {
    for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return s;
  };
  auto labelsOf = [&](const TaggedName& t) {
    std::string out;
    for (const auto& [name, value] : t.tags) out += (out.empty() ? "" : ",") + underscored(name) + "=\"" + value + "\"";
    return out;
  };
  std::string out;
  std::map<std::string, std::vector<std::string>> byMetric;
  std::set<std::string> histogramNames, gauges;
  for (const auto& [name, value] : stats) {
    TaggedName t = tags.produce(name);
    std::string metric = "envoy_" + underscored(t.name);
    if (isGauge(name)) gauges.insert(metric);
    byMetric[metric].push_back(metric + "{" + labelsOf(t) + "} " + std::to_string(value));
  }
  // Histograms: Envoy's buckets, cumulative, then the sum and the count of each series.
  for (const auto& h : histograms) {
    TaggedName t = tags.produce(h.name);
    std::string metric = "envoy_" + underscored(t.name);
    std::string labels = labelsOf(t);
    std::string before = labels.empty() ? "" : labels + ",";
    auto counts = h.histogram->cumulative();
    auto& lines = byMetric[metric];
    for (size_t i = 0; i < counts.size(); ++i) {
      std::string le = "+Inf";
      if (i < std::size(LatencyHistogram::kBounds)) {  // as Envoy writes them: 0.5, 1, 5, ... 3600000
        char text[32];
        le.assign(text, std::to_chars(text, text + sizeof text, LatencyHistogram::kBounds[i], std::chars_format::fixed).ptr);
      }
      lines.push_back(metric + "_bucket{" + before + "le=\"" + le + "\"} " + std::to_string(counts[i]));
    }
    lines.push_back(metric + "_sum{" + labels + "} " + std::to_string(h.histogram->sum()));
    lines.push_back(metric + "_count{" + labels + "} " + std::to_string(counts.back()));
    histogramNames.insert(metric);
  }
  for (const auto& [metric, lines] : byMetric) {
    bool gauge = gauges.count(metric) > 0;
    out += "# TYPE " + metric + (histogramNames.count(metric) ? " histogram\n" : gauge ? " gauge\n" : " counter\n");
    for (const auto& l : lines) out += l + "\n";
  }
  return out;
}

// POST /logging's change, as Envoy's LogsHandler: ?level=<level> (every logger), ?<name>=<level>, or
// ?paths=<name>:<level>,...; one parameter. Nothing changes unless all of it is valid. The error, or "".
std::string changeLogLevels(const std::map<std::string, std::string>& params) {
  if (params.size() != 1) return "invalid number of parameters";
  const auto& [key, value] = *params.begin();
  if (key == "level") {
    auto level = levelNamed(value);
    if (!level) return "unknown logger level";
    logger(Log::kAdmin).info("msg=\"change all log levels\" level={}", value);
    setAllLevels(*level);
    return "";
  }
  std::vector<std::pair<std::string, spdlog::level::level_enum>> changes;
  auto add = [&](std::string_view name, std::string_view levelName) -> std::string {
    auto level = levelNamed(levelName);
    if (!level) return "unknown logger level";
    changes.emplace_back(name, *level);
    return "";
  };
  if (key == "paths") {
    std::string_view rest = value;
    while (!rest.empty()) {
      std::string_view pair = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
      if (pair.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
      size_t colon = pair.find(':');
      std::string_view name = pair.substr(0, colon);
      std::string_view level = colon == std::string_view::npos ? std::string_view() : pair.substr(colon + 1);
      if (name.empty() || level.empty()) return "empty logger name or empty logger level";
      if (std::string e = add(name, level); !e.empty()) return e;
    }
  } else if (std::string e = add(key, value); !e.empty()) {
    return e;
  }
  std::vector<std::pair<spdlog::logger*, spdlog::level::level_enum>> found;
  for (auto* l : allLoggers()) {
    for (const auto& [name, level] : changes) {
      if (l->name() == name) found.emplace_back(l, level);
    }
  }
  if (found.size() != changes.size()) return "unknown logger name";
  for (auto [l, level] : found) {
    auto text = spdlog::level::to_string_view(level);
    logger(Log::kAdmin).info("msg=\"change log level\" name={} level={}", l->name(), std::string_view(text.data(), text.size()));
    l->set_level(level);
  }
  return "";
}

// /logging: the change, if any (400 with the usage when it is wrong), then every logger's level.
AdminResponse logging(const std::string& target) {
  AdminResponse r;
  auto params = queryParams(target);
  if (!params.empty()) {
    if (std::string error = changeLogLevels(params); !error.empty()) {
      r.status = 400;
      r.body = "error: " + error + "\n\n" +
               "usage: /logging?<name>=<level> (change single level)\n"
               "usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n"
               "usage: /logging?level=<level> (change all levels)\n"
               "levels: ";
      for (int i = spdlog::level::trace; i < spdlog::level::n_levels; ++i) {
        auto text = spdlog::level::to_string_view(static_cast<spdlog::level::level_enum>(i));
        r.body.append(text.data(), text.size()) += " ";
      }
      r.body += "\n";
    }
  }
  r.body += "active loggers:\n";
  for (const auto* l : allLoggers()) {
    auto text = spdlog::level::to_string_view(l->level());
    r.body += "  " + l->name() + ": " + std::string(text.data(), text.size()) + "\n";
  }
  r.body += "\n";
  return r;
}

// Envoy's RuntimeHandler: the values come from the query, or else from a form body; an empty value
// removes a key's override.
AdminResponse runtimeModify(const AdminContext& ctx, const std::string& target, std::string_view body,
                            std::string_view contentType) {
  auto params = queryParams(target);
  if (params.empty() && contentType == "application/x-www-form-urlencoded") params = queryParams("?" + std::string(body));
  if (params.empty()) {
    return {400, "text/plain; charset=UTF-8",
            "usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n"
            "       or send the parameters as form values\n"
            "use an empty value to remove a previously added override"};
  }
  if (!ctx.runtime) return {503, "text/plain; charset=UTF-8", "No admin layer specified"};
  Status s = ctx.runtime->merge({params.begin(), params.end()});
  if (!s.ok()) return {503, "text/plain; charset=UTF-8", std::string(s.message())};
  return {200, "text/plain; charset=UTF-8", "OK\n"};
}

}  // namespace

// Every stat: the registry's, and what the server and its configuration are now (Envoy's server.*,
// cluster_manager.* and listener_manager.* gauges), sorted by name.
StatValues allStats(const AdminContext& ctx, bool sinceReset) {
  StatValues out = sinceReset ? ctx.stats->all() : ctx.stats->raw();
  bool live = serverState(ctx) == "LIVE";
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx.started).count();
  ConfigManager::Counts n = ctx.config->counts();
  MemoryStats memory = memoryStats();
  out.insert(out.end(), {{"cluster_manager.active_clusters", n.activeClusters},
                         {"cluster_manager.warming_clusters", n.warmingClusters},
                         {"listener_manager.total_listeners_active", n.activeListeners},
                         {"listener_manager.total_listeners_warming", n.warmingListeners},
                         {"server.concurrency", ctx.concurrency},
                         {"server.memory_allocated", memory.allocated},
                         {"server.memory_heap_size", memory.heapSize},
                         {"server.memory_physical_size", memory.totalPhysicalBytes},
                         {"server.live", live ? 1u : 0u},
                         {"server.state", live ? 0u : serverState(ctx) == "DRAINING" ? 1u : 2u},
                         {"server.uptime", static_cast<uint64_t>(uptime)}});
  std::sort(out.begin(), out.end());
  return out;
}

AdminResponse adminHandle(const AdminContext& ctx, std::string_view method, const std::string& target,
                          std::string_view body, std::string_view contentType) {
  std::string path = target.substr(0, target.find('?'));
  std::string state = serverState(ctx);
  // The endpoints that change the server take POST only, as Envoy's.
  static const std::set<std::string, std::less<>> kMutating = {"/drain_listeners", "/healthcheck/fail", "/healthcheck/ok",
                                                                "/logging", "/quitquitquit", "/reset_counters",
                                                                "/runtime_modify"};
  if (kMutating.count(path) && method != "POST") {
    return {405, "text/plain; charset=UTF-8", "Method " + std::string(method) + " not allowed, POST required."};
  }
  if (path == "/drain_listeners") {
    if (ctx.drainListeners) ctx.drainListeners(hasParam(target, "inboundonly"), hasParam(target, "graceful"));
    return {200, "text/plain; charset=UTF-8", "OK\n"};
  }
  if (path == "/logging") return logging(target);
  if (path == "/reset_counters") {
    ctx.stats->resetCounters();
    return {200, "text/plain; charset=UTF-8", "OK\n"};
  }
  if (path == "/runtime") {
    return {200, "application/json", ctx.runtime ? runtimeJson(*ctx.runtime->snapshot()) : runtimeJson(RuntimeSnapshot())};
  }
  if (path == "/runtime_modify") return runtimeModify(ctx, target, body, contentType);
  if (path == "/quitquitquit") {
    if (ctx.quit) ctx.quit();
    return {200, "text/plain; charset=UTF-8", "OK\n"};
  }
  if (path == "/healthcheck/fail" || path == "/healthcheck/ok") {
    *ctx.healthCheckFailed = path == "/healthcheck/fail";
    return {200, "text/plain; charset=UTF-8", "OK\n"};
  }
  if (path == "/ready") return {state == "LIVE" ? 200u : 503u, "text/plain; charset=UTF-8", state + "\n"};
  if (path == "/server_info") {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx.started).count();
    json info = {{"version", "meshproxy/1.0 (Envoy-compatible)"},
                 {"state", state},
                 {"uptime_current_epoch", std::to_string(uptime) + "s"},
                 {"node", json::parse(ctx.nodeJson, nullptr, false)},
                 {"command_line_options", {{"concurrency", ctx.concurrency}}}};
    return {200, "application/json", info.dump(2) + "\n"};
  }
  if (path == "/memory") {  // Envoy's admin.v3.Memory, every field printed, 64-bit values as strings
    MemoryStats m = memoryStats();
    std::string body = "{\n";  // in the proto's field order, which nlohmann's sorted keys would lose
    std::pair<const char*, uint64_t> fields[] = {{"allocated", m.allocated},
                                                 {"heap_size", m.heapSize},
                                                 {"pageheap_unmapped", m.pageheapUnmapped},
                                                 {"pageheap_free", m.pageheapFree},
                                                 {"total_thread_cache", m.totalThreadCache},
                                                 {"total_physical_bytes", m.totalPhysicalBytes}};
    for (size_t i = 0; i < std::size(fields); ++i) {
      body += std::string(" \"") + fields[i].first + "\": \"" + std::to_string(fields[i].second) + "\"" +
              (i + 1 < std::size(fields) ? ",\n" : "\n");
    }
    return {200, "application/json", body + "}\n"};
  }
  if (path == "/config_dump") return configDump(ctx, queryParams(target));
  bool asJson = paramValue(target, "format") == "json";
  if (path == "/clusters") {
    if (asJson) return {200, "application/json", clustersJson(*ctx.config->current())};
    return {200, "text/plain; charset=UTF-8", clustersText(*ctx.config->current())};
  }
  if (path == "/listeners") {
    std::string out;
    json statuses = json::array();
    for (const auto& l : ctx.config->listenerProtos()) {
      const auto& sa = l->address().socket_address();
      bool v6 = sa.address().find(':') != std::string::npos;
      out += l->name() + "::" + (v6 ? "[" + sa.address() + "]" : sa.address()) + ":" + std::to_string(sa.port_value()) + "\n";
      statuses.push_back({{"name", l->name()},
                          {"local_address", {{"socket_address", {{"address", sa.address()}, {"port_value", sa.port_value()}}}}}});
    }
    if (asJson) return {200, "application/json", json{{"listener_statuses", statuses}}.dump(1) + "\n"};
    return {200, "text/plain; charset=UTF-8", out};
  }
  if (path == "/stats" || path == "/stats/prometheus") {
    // Envoy's query: filter=<RE2, matched anywhere in the name>, usedonly, format=json|prometheus.
    std::optional<std::string> filter = paramValue(target, "filter");
    std::unique_ptr<RE2> re;
    if (filter) {
      re = std::make_unique<RE2>(*filter, RE2::Quiet);
      if (!re->ok()) return {400, "text/plain; charset=UTF-8", "Invalid re2 regex"};
    }
    bool usedOnly = hasParam(target, "usedonly");
    auto keep = [&](const std::string& name, bool used) { return (!usedOnly || used) && (!re || RE2::PartialMatch(name, *re)); };
    StatValues stats;
    for (auto& kv : allStats(ctx)) {
      if (keep(kv.first, kv.second != 0)) stats.push_back(std::move(kv));  // a value other than 0: used
    }
    auto histograms = ctx.stats->histograms();
    std::erase_if(histograms, [&](const auto& h) { return !keep(h.name, h.histogram->cumulative().back() > 0); });
    std::string format = paramValue(target, "format").value_or(path == "/stats" ? "text" : "prometheus");
    if (format == "prometheus") return {200, "text/plain; version=0.0.4", prometheus(*ctx.tags, stats, histograms)};
    if (format == "json") {
      json list = json::array();
      for (const auto& [name, value] : stats) list.push_back({{"name", name}, {"value", value}});
      return {200, "application/json", json{{"stats", list}}.dump() + "\n"};
    }
    std::string out;
    for (const auto& [name, value] : stats) out += name + ": " + std::to_string(value) + "\n";
    return {200, "text/plain; charset=UTF-8", out};
  }
  return {404, "text/plain; charset=UTF-8",
          "invalid path. admin commands are: /ready /server_info /config_dump /clusters /listeners /stats /stats/prometheus /memory "
          "/runtime /drain_listeners /healthcheck/fail /healthcheck/ok /logging /quitquitquit /reset_counters "
          "/runtime_modify\n"};
}

AdminServer::AdminServer(boost::asio::io_context& main, AdminContext ctx) : main_(main), ctx_(std::move(ctx)), acceptor_(main) {}

StatusOr<int> AdminServer::listen(const std::string& address, uint32_t port) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) return badRequest("admin address " + address + " is not an IP address");
  tcp::endpoint ep(ip, static_cast<uint16_t>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ip.is_v6()) acceptor_.set_option(boost::asio::ip::v6_only(false), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(128, ec);
  if (ec) return badRequest("cannot bind the admin address " + address + ":" + std::to_string(port) + ": " + ec.message());
  boost::asio::co_spawn(main_, [this]() -> boost::asio::awaitable<void> {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s = co_await acceptor_.async_accept(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) continue;
      boost::asio::co_spawn(main_, [this, s = std::move(s)]() mutable -> boost::asio::awaitable<void> {
        beast::tcp_stream stream(std::move(s));
        beast::flat_buffer buffer;
        boost::system::error_code ec;
        for (;;) {
          http::request<http::string_body> req;
          stream.expires_after(std::chrono::seconds(30));
          co_await http::async_read(stream, buffer, req, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
          if (ec) break;
          auto contentType = req[http::field::content_type];
          AdminResponse r = adminHandle(ctx_, std::string(req.method_string()), std::string(req.target()), req.body(),
                                        std::string_view(contentType.data(), contentType.size()));
          http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
          res.set(http::field::content_type, r.contentType);
          res.body() = std::move(r.body);
          res.keep_alive(req.keep_alive());
          res.prepare_payload();
          co_await http::async_write(stream, res, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
          if (ec || !req.keep_alive()) break;
        }
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      }, boost::asio::detached);
    }
  }, boost::asio::detached);
  return static_cast<int>(acceptor_.local_endpoint().port());
}

void AdminServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace meshd::proxy
