#include "cli/discovery_cli.h"

#include <iostream>

#include "cli/discovery_commands.h"
#include "cli/table.h"
#include "common/encoding.h"
#include "discovery/static_records.h"

namespace meshd::cli {

using nlohmann::json;

namespace {

// Runs `fn` with a connected client, printing its result (JSON or its table) or its error.
void run(CliContext& ctx, const std::function<StatusOr<json>(const Client&)>& fn,
         const std::function<std::string(const json&)>& table) {
  auto client = ctx.client();
  StatusOr<json> r = client.ok() ? fn(*client) : StatusOr<json>(client.status());
  if (!r.ok()) {
    const Status& st = r.status();
    std::cerr << "meshctl: " << (st.type().empty() ? "" : st.type() + ": ") << st.message() << "\n";
    ctx.exitCode = 1;
    return;
  }
  std::cout << (*ctx.output == "json" ? r->dump(2) + "\n" : table(*r));
}

std::string text(const json& j, const char* field) {
  if (!j.contains(field)) return "-";
  return j[field].is_string() ? j[field].get<std::string>() : j[field].dump();
}

void addNamespaceCommands(CLI::App& app, CliContext& ctx) {
  auto* ns = app.add_subcommand("namespace", "Cloud Map namespaces")->require_subcommand(1);
  static std::string name, type = "private";
  static int64_t soaTtl = 15;
  auto* create = ns->add_subcommand("create", "create a namespace (a DNS zone unless --type http)");
  create->add_option("name", name)->required();
  create->add_option("--type", type, "private, public or http")->capture_default_str();
  create->add_option("--soa-ttl", soaTtl, "SOA TTL of a DNS namespace")->capture_default_str();
  create->callback([&ctx] {
    run(ctx, [](const Client& c) { return createNamespace(c, name, type, soaTtl); },
        [](const json&) { return "namespace/" + name + " created\n"; });
  });
  ns->add_subcommand("list", "list namespaces")->callback([&ctx] {
    run(ctx, [](const Client& c) { return c.callCloudMap("ListNamespaces", json::object()); },
        [](const json& r) {
          std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "TYPE", "SERVICES"}};
          for (const json& n : r["Namespaces"]) rows.push_back({text(n, "Id"), text(n, "Name"), text(n, "Type"), text(n, "ServiceCount")});
          return columns(rows);
        });
  });
  auto* del = ns->add_subcommand("delete", "delete a namespace by name or id");
  del->add_option("name", name)->required();
  del->callback([&ctx] {
    run(ctx, [](const Client& c) -> StatusOr<json> {
          auto id = namespaceId(c, name);
          if (!id.ok()) return id.status();
          return c.callCloudMap("DeleteNamespace", {{"Id", *id}});
        },
        [](const json&) { return "namespace/" + name + " deleted\n"; });
  });
}

void addServiceCommands(CLI::App& app, CliContext& ctx) {
  auto* svc = app.add_subcommand("service", "Cloud Map services")->require_subcommand(1);
  static std::string name, ns, records;
  static int64_t ttl = 60;
  static bool customHealth = false;
  auto* create = svc->add_subcommand("create", "create a service in a namespace");
  create->add_option("name", name)->required();
  create->add_option("--namespace", ns)->required();
  create->add_option("--records", records, "DNS record types: A, AAAA, A,AAAA, SRV or CNAME");
  create->add_option("--ttl", ttl, "record TTL")->capture_default_str();
  create->add_flag("--custom-health", customHealth, "health reported by UpdateInstanceCustomHealthStatus");
  create->callback([&ctx] {
    run(ctx, [](const Client& c) { return createService(c, ns, name, records, ttl, customHealth); },
        [](const json& r) { return "service/" + name + " created (" + text(r["Service"], "Id") + ")\n"; });
  });
  auto* list = svc->add_subcommand("list", "list services");
  list->add_option("--namespace", ns);
  list->callback([&ctx] {
    run(ctx, [](const Client& c) -> StatusOr<json> {
          json in = json::object();
          if (!ns.empty()) {
            auto id = namespaceId(c, ns);
            if (!id.ok()) return id.status();
            in["Filters"] = {{{"Name", "NAMESPACE_ID"}, {"Values", {*id}}, {"Condition", "EQ"}}};
          }
          return c.callCloudMap("ListServices", in);
        },
        [](const json& r) {
          std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "TYPE", "INSTANCES", "RECORDS"}};
          for (const json& s : r["Services"]) {
            std::string recs;
            if (s.contains("DnsConfig")) {
              for (const json& d : s["DnsConfig"]["DnsRecords"]) recs += (recs.empty() ? "" : ",") + d["Type"].get<std::string>();
            }
            rows.push_back({text(s, "Id"), text(s, "Name"), text(s, "Type"), text(s, "InstanceCount"), recs.empty() ? "-" : recs});
          }
          return columns(rows);
        });
  });
  auto* del = svc->add_subcommand("delete", "delete a service");
  del->add_option("name", name)->required();
  del->add_option("--namespace", ns)->required();
  del->callback([&ctx] {
    run(ctx, [](const Client& c) -> StatusOr<json> {
          auto id = serviceId(c, ns, name);
          if (!id.ok()) return id.status();
          return c.callCloudMap("DeleteService", {{"Id", *id}});
        },
        [](const json&) { return "service/" + name + " deleted\n"; });
  });
}

void addInstanceCommands(CLI::App& app, CliContext& ctx) {
  auto* inst = app.add_subcommand("instance", "Cloud Map instances")->require_subcommand(1);
  static std::string ns, service, id, health = "HEALTHY";
  static InstanceSpec spec;
  static std::vector<std::string> attrs;
  auto scope = [](CLI::App* cmd) {
    cmd->add_option("--namespace", ns)->required();
    cmd->add_option("--service", service)->required();
  };
  auto* reg = inst->add_subcommand("register", "register (or re-register) an instance");
  scope(reg);
  reg->add_option("--id", id)->required();
  reg->add_option("--ipv4", spec.ipv4, "AWS_INSTANCE_IPV4");
  reg->add_option("--ipv6", spec.ipv6, "AWS_INSTANCE_IPV6");
  reg->add_option("--port", spec.port, "AWS_INSTANCE_PORT");
  reg->add_option("--attr", attrs, "custom attribute key=value (repeatable)");
  reg->callback([&ctx] {
    for (const std::string& a : attrs) {
      size_t eq = a.find('=');
      spec.attributes[a.substr(0, eq)] = eq == std::string::npos ? "" : a.substr(eq + 1);
    }
    run(ctx, [](const Client& c) { return registerInstance(c, ns, service, id, spec); },
        [](const json&) { return "instance/" + id + " registered\n"; });
  });
  auto* dereg = inst->add_subcommand("deregister", "deregister an instance");
  scope(dereg);
  dereg->add_option("--id", id)->required();
  dereg->callback([&ctx] {
    run(ctx, [](const Client& c) -> StatusOr<json> {
          auto svc = serviceId(c, ns, service);
          if (!svc.ok()) return svc.status();
          return c.callCloudMap("DeregisterInstance", {{"ServiceId", *svc}, {"InstanceId", id}});
        },
        [](const json&) { return "instance/" + id + " deregistered\n"; });
  });
  auto table = [](const json& r) {
    std::vector<std::vector<std::string>> rows = {{"ID", "HEALTH", "IPV4", "IPV6", "PORT"}};
    for (const json& i : r["Instances"]) {
      const json& a = i["Attributes"];
      rows.push_back({i.contains("Id") ? text(i, "Id") : text(i, "InstanceId"), text(i, "HealthStatus"),
                      text(a, "AWS_INSTANCE_IPV4"), text(a, "AWS_INSTANCE_IPV6"), text(a, "AWS_INSTANCE_PORT")});
    }
    return columns(rows);
  };
  auto* list = inst->add_subcommand("list", "list a service's instances");
  scope(list);
  list->callback([&ctx, table] {
    run(ctx, [](const Client& c) -> StatusOr<json> {
          auto svc = serviceId(c, ns, service);
          if (!svc.ok()) return svc.status();
          return c.callCloudMap("ListInstances", {{"ServiceId", *svc}});
        }, table);
  });
  auto* discover = inst->add_subcommand("discover", "discover instances as clients do");
  scope(discover);
  discover->add_option("--health", health, "HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL")->capture_default_str();
  discover->callback([&ctx, table] {
    run(ctx, [](const Client& c) {
          return c.callCloudMap("DiscoverInstances",
                                {{"NamespaceName", ns}, {"ServiceName", service}, {"HealthStatus", health}});
        }, table);
  });
}

void addDnsCommands(CLI::App& app, CliContext& ctx) {
  auto* dns = app.add_subcommand("dns", "static DNS records served by meshd's DNS server")->require_subcommand(1);
  static std::string name;
  static std::vector<std::string> a, aaaa;
  static int64_t ttl = 60;
  const std::string base = discovery::kStaticRecordsPath;
  auto* set = dns->add_subcommand("set", "set the A/AAAA records of a name");
  set->add_option("name", name)->required();
  set->add_option("--a", a, "IPv4 address (repeatable)");
  set->add_option("--aaaa", aaaa, "IPv6 address (repeatable)");
  set->add_option("--ttl", ttl)->capture_default_str();
  set->callback([&ctx, base] {
    run(ctx, [base](const Client& c) {
          return c.request("PUT", base + "/" + percentEncode(name), json{{"A", a}, {"AAAA", aaaa}, {"TTL", ttl}}.dump());
        },
        [](const json&) { return "record/" + name + " set\n"; });
  });
  auto recordsTable = [](const json& r) {
    std::vector<std::vector<std::string>> rows = {{"NAME", "TTL", "A", "AAAA"}};
    for (const json& rec : r.contains("records") ? r["records"] : json::array({r})) {
      std::string v4, v6;
      for (const json& x : rec["A"]) v4 += (v4.empty() ? "" : ",") + x.get<std::string>();
      for (const json& x : rec["AAAA"]) v6 += (v6.empty() ? "" : ",") + x.get<std::string>();
      rows.push_back({text(rec, "Name"), text(rec, "TTL"), v4.empty() ? "-" : v4, v6.empty() ? "-" : v6});
    }
    return columns(rows);
  };
  auto* get = dns->add_subcommand("get", "show one name's records, or all");
  get->add_option("name", name);
  get->callback([&ctx, base, recordsTable] {
    run(ctx, [base](const Client& c) { return c.request("GET", name.empty() ? base : base + "/" + percentEncode(name)); },
        recordsTable);
  });
  auto* del = dns->add_subcommand("delete", "delete a name's records");
  del->add_option("name", name)->required();
  del->callback([&ctx, base] {
    run(ctx, [base](const Client& c) { return c.request("DELETE", base + "/" + percentEncode(name)); },
        [](const json&) { return "record/" + name + " deleted\n"; });
  });
}

}  // namespace

void addDiscoveryCommands(CLI::App& app, CliContext& ctx) {
  addNamespaceCommands(app, ctx);
  addServiceCommands(app, ctx);
  addInstanceCommands(app, ctx);
  addDnsCommands(app, ctx);
}

}  // namespace meshd::cli
