// meshctl: the command line of meshd, with kubectl habits.
//   meshctl apply -f FILE|DIR          create or update what the files describe
//   meshctl get KIND [NAME] --mesh M   list or show resources (-o json for the API's JSON)
//   meshctl delete KIND NAME --mesh M  (or delete -f FILE|DIR)
//   meshctl namespace|service|instance ...   the Cloud Map registry
//   meshctl dns set|get|delete ...           static DNS records
//   meshctl bootstrap                        an Envoy bootstrap from APPMESH_* variables
//   meshctl config-dump NODE | status        what meshd sends a proxy; connected proxies
//   meshctl diagnose [CALLER] --mesh M       predicted outcomes per route and why

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/discovery_cli.h"
#include "common/encoding.h"
#include "xds/bootstrap.h"

extern char** environ;

namespace {

using meshd::cli::Client;
using nlohmann::json;

int fail(const meshd::Status& st) {
  std::cerr << "meshctl: " << (st.type().empty() ? "" : st.type() + ": ") << st.message() << "\n";
  return 1;
}

const meshd::model::Kind* kindOrNull(const std::string& name) {
  const meshd::model::Kind* kind = meshd::cli::kindFromUser(name);
  if (!kind) std::cerr << "meshctl: unknown kind '" << name << "' (mesh, vn, vs, vr, route, vg, gr)\n";
  return kind;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meshctl: manage meshd's service meshes"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand (meshctl get vn -o json)
  const char* env = std::getenv("MESHD_ENDPOINT");
  std::string endpoint = env ? env : "http://127.0.0.1:8080";
  std::string output = "table";
  app.add_option("--endpoint", endpoint, "meshd API (env MESHD_ENDPOINT)")->capture_default_str();
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));

  std::vector<std::string> files;
  auto* apply = app.add_subcommand("apply", "create or update resources from --cli-input-json files");
  apply->add_option("-f,--filename", files, "file or directory (repeatable)")->required();

  std::string kindName, name;
  meshd::cli::Scope scope;
  auto addScope = [&](CLI::App* cmd) {
    cmd->add_option("--mesh", scope.mesh, "mesh name");
    cmd->add_option("--router", scope.parent, "virtual router (routes)");
    cmd->add_option("--gateway", scope.parent, "virtual gateway (gateway routes)");
  };
  auto* get = app.add_subcommand("get", "show one resource or list a kind");
  get->add_option("kind", kindName, "mesh, vn, vs, vr, route, vg, gr")->required();
  get->add_option("name", name, "resource name (all when omitted)");
  addScope(get);
  auto* list = app.add_subcommand("list", "list resources of a kind");
  list->add_option("kind", kindName)->required();
  addScope(list);
  auto* del = app.add_subcommand("delete", "delete a resource, or what files describe");
  del->add_option("kind", kindName);
  del->add_option("name", name);
  del->add_option("-f,--filename", files, "file or directory (repeatable)");
  bool ignoreNotFound = false;
  del->add_flag("--ignore-not-found", ignoreNotFound, "treat a missing resource as deleted");
  addScope(del);
  auto* bootstrap = app.add_subcommand(
      "bootstrap", "print an Envoy v3 bootstrap from the App Mesh Envoy image's environment variables");
  bootstrap->callback([] {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      size_t eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    auto b = meshd::xds::makeBootstrap(env);
    if (!b.ok()) {
      std::cerr << "meshctl: " << b.status().message() << "\n";
      std::exit(1);
    }
    std::cout << meshd::xds::bootstrapJson(*b) << "\n";
  });
  std::string dumpNode;
  bool dumpNoIpv6 = false;
  auto* configDump = app.add_subcommand("config-dump", "print what meshd would send a proxy, as Envoy JSON");
  configDump->add_option("node", dumpNode, "mesh/<mesh>/virtualNode/<name>, .../virtualGateway/<name> or an ARN")
      ->required();
  configDump->add_flag("--no-ipv6", dumpNoIpv6, "as for a proxy whose host has no IPv6");
  auto* status = app.add_subcommand("status", "connected proxies: last ACKed version, last NACK, notes");
  int waitSeconds = 0;
  status->add_option("--wait", waitSeconds,
                     "wait up to SECONDS until every connected proxy has ACKed what meshd holds now (exit 1 if not)");
  std::string diagnoseCaller, diagnoseMesh;
  auto* diagnose = app.add_subcommand("diagnose", "predict which routes will fail and why (IP preference, discovery)");
  diagnose->add_option("caller", diagnoseCaller, "a virtual gateway or node name (all when omitted)");
  diagnose->add_option("--mesh", diagnoseMesh, "mesh name")->required();
  meshd::cli::CliContext ctx{[&] { return Client::connectTo(endpoint); }, &output};
  meshd::cli::addDiscoveryCommands(app, ctx);
  CLI11_PARSE(app, argc, argv);
  auto client = Client::connectTo(endpoint);
  if (configDump->parsed() || status->parsed() || diagnose->parsed()) {
    if (!client.ok()) return fail(client.status());
    std::string target =
        configDump->parsed() ? "/meshd/v1/config_dump?node=" + meshd::percentEncode(dumpNode) + (dumpNoIpv6 ? "&ipv6=false" : "")
        : diagnose->parsed() ? "/meshd/v1/diagnose?mesh=" + meshd::percentEncode(diagnoseMesh) +
                                   (diagnoseCaller.empty() ? "" : "&caller=" + meshd::percentEncode(diagnoseCaller))
                             : "/meshd/v1/proxies";
    auto r = client->request("GET", target);
    if (!r.ok()) return fail(r.status());
    if (status->parsed() && waitSeconds > 0) {
      r = meshd::cli::waitInSync(*client, *r, std::chrono::seconds(waitSeconds));
      if (!r.ok()) return fail(r.status());
    }
    if (configDump->parsed() || output == "json") {
      std::cout << r->dump(2) << "\n";
    } else if (diagnose->parsed()) {
      std::cout << meshd::cli::renderDiagnoses(*r);
    } else {
      std::cout << meshd::cli::renderProxies(*r);
    }
    return 0;
  }
  if (!apply->parsed() && !get->parsed() && !list->parsed() && !del->parsed()) return ctx.exitCode;

  if (!client.ok()) return fail(client.status());

  if (apply->parsed() || (del->parsed() && !files.empty())) {
    std::vector<json> docs;
    for (const std::string& f : files) {
      auto d = meshd::cli::readDocuments(f);
      if (!d.ok()) return fail(d.status());
      docs.insert(docs.end(), d->begin(), d->end());
    }
    if (del->parsed()) std::reverse(docs.begin(), docs.end());  // children before parents
    int exitCode = 0;
    for (const json& doc : docs) {
      if (apply->parsed()) {
        auto r = meshd::cli::applyDocument(*client, doc);
        if (!r.ok()) return fail(r.status());
        std::cout << *r << "\n";
        continue;
      }
      const meshd::model::Kind* kind = meshd::cli::kindOfDocument(doc);
      meshd::cli::Scope s{doc.value("meshName", ""),
                          kind->parent ? doc.value(std::string(kind->parent->nameField), "") : ""};
      std::string n = doc.value(std::string(kind->nameField), "");
      auto r = meshd::cli::deleteResource(*client, *kind, s, n);
      if (!r.ok() && r.status().kind() == meshd::ErrorKind::kNotFound) {
        if (!ignoreNotFound) exitCode = fail(r.status());  // like kubectl: report, go on, exit 1
        continue;
      }
      if (!r.ok()) return fail(r.status());
      std::cout << kind->name << "/" << n << " deleted\n";
    }
    return exitCode;
  }

  const meshd::model::Kind* kind = kindOrNull(kindName);
  if (!kind) return 1;
  if (del->parsed()) {
    if (name.empty()) return fail(meshd::badRequest("delete needs a NAME or -f"));
    auto r = meshd::cli::deleteResource(*client, *kind, scope, name);
    if (!r.ok() && ignoreNotFound && r.status().kind() == meshd::ErrorKind::kNotFound) return 0;
    if (!r.ok()) return fail(r.status());
    if (output == "json") {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << kind->name << "/" << name << " deleted\n";
    }
    return 0;
  }
  auto items = meshd::cli::getResources(*client, *kind, scope, list->parsed() ? "" : name);
  if (!items.ok()) return fail(items.status());
  if (output == "json") {
    std::cout << (name.empty() || list->parsed() ? json{{std::string(kind->listField), *items}} : (*items)[0]).dump(2)
              << "\n";
  } else {
    std::cout << meshd::cli::renderTable(*kind, *items);
  }
  return 0;
}
