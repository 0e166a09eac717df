#include "cli/commands.h"

#include "cli/table.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace meshd::cli {

using model::Kind;
using nlohmann::json;

namespace {

std::string normalized(std::string s) {
  std::string out;
  for (char c : s) {
    if (c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

size_t kindOrder(const Kind* k) {
  const auto& all = model::allKinds();
  return static_cast<size_t>(std::find(all.begin(), all.end(), k) - all.begin());
}

json identity(const Kind& kind, const Scope& scope, const std::string& name) {
  json in = {{"meshName", scope.mesh}};
  if (kind.parent) in[std::string(kind.parent->nameField)] = scope.parent;
  if (!kind.isMesh()) in[std::string(kind.nameField)] = name;
  return in;
}

Status needScope(const Kind& kind, const Scope& scope) {
  if (!kind.isMesh() && scope.mesh.empty()) return badRequest("--mesh is required for " + std::string(kind.listField));
  if (kind.parent && scope.parent.empty()) {
    return badRequest(std::string(kind.parent == &model::kVirtualRouter ? "--router" : "--gateway") +
                      " is required for " + std::string(kind.listField));
  }
  return okStatus();
}

std::string formatTime(const json& t) {
  if (!t.is_number()) return "-";
  std::time_t secs = static_cast<std::time_t>(t.get<double>());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&secs));
  return buf;
}

}  // namespace

const Kind* kindFromUser(std::string kind) {
  static const std::map<std::string, const Kind*> kAliases = {
      {"mesh", &model::kMesh},          {"vn", &model::kVirtualNode},      {"vs", &model::kVirtualService},
      {"vr", &model::kVirtualRouter},   {"vg", &model::kVirtualGateway},   {"gr", &model::kGatewayRoute},
      {"rt", &model::kRoute}};
  std::string k = normalized(kind);
  if (auto it = kAliases.find(k); it != kAliases.end()) return it->second;
  for (const Kind* candidate : model::allKinds()) {
    if (k == normalized(std::string(candidate->name)) || k == normalized(std::string(candidate->listField))) {
      return candidate;
    }
  }
  return nullptr;
}

const Kind* kindOfDocument(const json& doc) {
  if (!doc.is_object()) return nullptr;
  // Most specific first: a route document also names its router.
  for (const Kind* k : {&model::kGatewayRoute, &model::kRoute, &model::kVirtualNode, &model::kVirtualService,
                        &model::kVirtualRouter, &model::kVirtualGateway, &model::kMesh}) {
    if (doc.contains(std::string(k->nameField))) return k;
  }
  return nullptr;
}

StatusOr<std::vector<json>> readDocuments(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<json> docs;
  for (const std::string& f : files) {
    std::ifstream in(f);
    if (!in) return badRequest("cannot read " + f);
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded()) return badRequest(f + ": not valid JSON");
    for (const json& d : doc.is_array() ? doc : json::array({doc})) {
      if (!kindOfDocument(d)) return badRequest(f + ": not an App Mesh resource (no meshName)");
      docs.push_back(d);
    }
  }
  std::stable_sort(docs.begin(), docs.end(), [](const json& a, const json& b) {
    return kindOrder(kindOfDocument(a)) < kindOrder(kindOfDocument(b));
  });
  return docs;
}

StatusOr<std::string> applyDocument(const Client& client, const json& doc) {
  const Kind* kind = kindOfDocument(doc);
  if (!kind) return badRequest("not an App Mesh resource document");
  std::string title(kind->title);
  json id = {{"meshName", doc["meshName"]}};
  if (kind->parent) id[std::string(kind->parent->nameField)] = doc.value(std::string(kind->parent->nameField), "");
  if (!kind->isMesh()) id[std::string(kind->nameField)] = doc[std::string(kind->nameField)];
  if (doc.contains("meshOwner")) id["meshOwner"] = doc["meshOwner"];
  std::string label = std::string(kind->name) + "/" + doc[std::string(kind->nameField)].get<std::string>();

  auto current = client.call("Describe" + title, id);
  if (!current.ok() && current.status().kind() != ErrorKind::kNotFound) return current.status();
  if (!current.ok()) {
    auto created = client.call("Create" + title, doc);
    if (!created.ok()) return created.status();
    return label + " created";
  }
  json update = doc;
  update.erase("tags");  // tags are not part of an update; tag-resource changes them
  const json& existing = (*current)[std::string(kind->name)]["spec"];
  if (update.contains("spec") && existing == update["spec"]) return label + " unchanged";
  auto updated = client.call("Update" + title, update);
  if (!updated.ok()) return updated.status();
  return label + " configured";
}

StatusOr<json> getResources(const Client& client, const Kind& kind, const Scope& scope, const std::string& name) {
  MESHD_RETURN_IF_ERROR(needScope(kind, {kind.isMesh() ? name : scope.mesh, scope.parent}));
  if (!name.empty()) {
    Scope s = scope;
    if (kind.isMesh()) s.mesh = name;
    auto r = client.call("Describe" + std::string(kind.title), identity(kind, s, name));
    if (!r.ok()) return r.status();
    return json::array({(*r)[std::string(kind.name)]});
  }
  std::string listOp = "List" + std::string(kind.listField);
  listOp[4] = static_cast<char>(std::toupper(static_cast<unsigned char>(listOp[4])));
  json input = kind.isMesh() ? json::object() : identity(kind, scope, "");
  if (!kind.isMesh()) input.erase(std::string(kind.nameField));
  json items = json::array();
  while (true) {
    auto page = client.call(listOp, input);
    if (!page.ok()) return page.status();
    for (const json& item : (*page)[std::string(kind.listField)]) items.push_back(item);
    if (!page->contains("nextToken") || (*page)["nextToken"].is_null()) break;
    input["nextToken"] = (*page)["nextToken"];
  }
  return items;
}

StatusOr<json> deleteResource(const Client& client, const Kind& kind, const Scope& scope, const std::string& name) {
  Scope s = scope;
  if (kind.isMesh()) s.mesh = name;
  MESHD_RETURN_IF_ERROR(needScope(kind, s));
  auto r = client.call("Delete" + std::string(kind.title), identity(kind, s, name));
  if (!r.ok()) return r.status();
  return (*r)[std::string(kind.name)];
}

std::string renderTable(const Kind& kind, const json& items) {
  std::vector<std::string> header = {"NAME", "MESH"};
  if (kind.parent) header.push_back(kind.parent == &model::kVirtualRouter ? "ROUTER" : "GATEWAY");
  header.insert(header.end(), {"VERSION", "STATUS", "UPDATED"});
  std::vector<std::vector<std::string>> rows = {header};
  for (const json& item : items) {
    const json& meta = item.contains("metadata") ? item["metadata"] : item;
    std::vector<std::string> row = {item.value(std::string(kind.nameField), ""), item.value("meshName", "")};
    if (kind.parent) row.push_back(item.value(std::string(kind.parent->nameField), ""));
    row.push_back(meta.contains("version") ? meta["version"].dump() : "-");
    row.push_back(item.contains("status") ? item["status"].value("status", "-") : "ACTIVE");
    row.push_back(formatTime(meta.value("lastUpdatedAt", json())));
    rows.push_back(row);
  }
  return columns(rows);
}

std::string renderProxies(const json& r) {
  std::vector<std::vector<std::string>> rows = {{"PROXY", "PEER", "STREAM", "SYNCED", "LISTENERS", "CLUSTERS", "LAST NACK", "NOTES"}};
  auto acked = [](const json& p, const char* suffix) {
    for (auto& [type, version] : p["acked"].items()) {
      if (type.size() >= std::strlen(suffix) && type.compare(type.size() - std::strlen(suffix), std::string::npos, suffix) == 0) {
        return version.get<std::string>().substr(0, 8);
      }
    }
    return std::string("-");
  };
  for (const json& p : r["proxies"]) {
    std::string nack = p.contains("lastNack") ? p["lastNack"].value("reason", "") : "-";
    std::string notes = p["notes"].empty() ? "-" : p["notes"][0].get<std::string>();
    if (p["notes"].size() > 1) notes += " (+" + std::to_string(p["notes"].size() - 1) + ")";
    std::string peer = p.value("peer", "");
    rows.push_back({p.value("key", ""), peer.empty() ? "-" : peer,
                    std::string(p.value("delta", false) ? "delta " : "sotw ") + p["stream"].dump(),
                    p.value("inSync", false) ? "yes" : "no", acked(p, ".Listener"), acked(p, ".Cluster"), nack, notes});
  }
  return columns(rows);
}

StatusOr<json> waitInSync(const Client& client, json now, std::chrono::seconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  uint64_t target = now.value("storeRevision", 0);
  for (;;) {
    std::vector<std::string> behind;
    if (now.value("publishedRevision", 0) < target) behind.push_back("meshd's translation");
    for (const json& p : now["proxies"]) {
      if (!p.value("inSync", false)) behind.push_back(p.value("key", ""));
    }
    if (behind.empty()) return now;
    if (std::chrono::steady_clock::now() > deadline) {
      std::string list;
      for (const auto& b : behind) list += (list.empty() ? "" : ", ") + b;
      return Status(ErrorKind::kServiceUnavailable, "not in sync after " + std::to_string(within.count()) + "s: " + list);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto next = client.request("GET", "/meshd/v1/proxies");
    if (!next.ok()) return next.status();
    now = std::move(*next);
  }
}

std::string renderDiagnoses(const json& r) {
  std::vector<std::vector<std::string>> rows = {{"CALLER", "TARGET", "PREFERENCE", "ADDRESS", "APP VIA", "OUTCOME", "WHY"}};
  for (const json& d : r["diagnoses"]) {
    std::string caller = d.value("caller", "");
    caller = caller.substr(caller.rfind('/') + 1);
    std::string address = d.value("address", "");
    rows.push_back({caller, d.value("target", ""), d.value("preference", ""), address.empty() ? "-" : address,
                    d.value("appAddress", ""), d.value("outcome", ""),
                    d["reasons"].empty() ? "" : d["reasons"][0].get<std::string>()});
  }
  return columns(rows);
}

}  // namespace meshd::cli
