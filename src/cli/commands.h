#pragma once
// meshctl's commands over App Mesh resources, kubectl-style: apply, get/list, delete.
// Each returns the text to print, or a Status that main() turns into one line and exit 1.

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "cli/client.h"
#include "model/kind.h"

namespace meshd::cli {

// "vn", "virtualnode", "virtualNodes", "virtual-node" ... -> the kind.
const model::Kind* kindFromUser(std::string kind);

// The kind a --cli-input-json document is for, from the name fields it carries.
const model::Kind* kindOfDocument(const nlohmann::json& doc);

// Creates the resource a document describes, or updates it; "<kind>/<name> created|configured|unchanged".
StatusOr<std::string> applyDocument(const Client& client, const nlohmann::json& doc);
// Reads FILE, or every *.json below DIR, and orders documents so parents are applied first.
StatusOr<std::vector<nlohmann::json>> readDocuments(const std::string& path);

struct Scope {
  std::string mesh;
  std::string parent;  // --router / --gateway for routes and gateway routes
};

// get with a name: one resource; without: the list (all pages).
StatusOr<nlohmann::json> getResources(const Client& client, const model::Kind& kind, const Scope& scope,
                                      const std::string& name);
StatusOr<nlohmann::json> deleteResource(const Client& client, const model::Kind& kind, const Scope& scope,
                                        const std::string& name);

// A table of list refs or resources: NAME, MESH, [ROUTER|GATEWAY], VERSION, STATUS, UPDATED.
std::string renderTable(const model::Kind& kind, const nlohmann::json& items);

// The proxies table of `meshctl status`: PROXY, STREAM, ACKED (per type), LAST NACK, NOTES.
std::string renderProxies(const nlohmann::json& proxies);

// `meshctl status --wait`: polls /meshd/v1/proxies (first reply `now`) until meshd has published
// the store revision current at the first reply and every connected proxy has ACKed it; the last
// reply, or Unavailable naming the proxies still behind.
StatusOr<nlohmann::json> waitInSync(const Client& client, nlohmann::json now, std::chrono::seconds within);

// The table of `meshctl diagnose`: CALLER, TARGET, PREFERENCE, ADDRESS, APP VIA, OUTCOME, WHY.
std::string renderDiagnoses(const nlohmann::json& diagnoses);

}  // namespace meshd::cli
