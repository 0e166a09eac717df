#include "discovery/registry.h"

#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

bool isHealthy(const json& instance) { return instance.value("Health", "HEALTHY") != "UNHEALTHY"; }

StatusOr<RegistrySnapshot> loadRegistry(store::Store& store) {
  // The store has no multi-key read transaction; reading until the revision holds still gives a
  // consistent view (writes are rare next to reads).
  for (int attempt = 0;; ++attempt) {
    RegistrySnapshot snap;
    snap.revision = store.revision();
    auto ns = store::listAll(store, keys::kNamespaces);
    auto svcs = store::listAll(store, keys::kServices);
    auto insts = store::listAll(store, keys::kInstances);
    auto statics = store::listAll(store, keys::kStaticRecords);
    for (auto* r : {&ns, &svcs, &insts, &statics}) {
      if (!r->ok()) return r->status();
    }
    if (store.revision() != snap.revision && attempt < 10) continue;
    for (const auto& kv : *ns) snap.namespaces.push_back(json::parse(kv.value)["data"]);
    for (const auto& kv : *svcs) snap.services.push_back(json::parse(kv.value)["data"]);
    for (const auto& kv : *insts) {
      std::string rest = kv.key.substr(keys::kInstances.size());
      snap.instances[rest.substr(0, rest.find('/'))].push_back(json::parse(kv.value));
    }
    for (const auto& kv : *statics) snap.staticRecords.push_back(json::parse(kv.value));
    return snap;
  }
}

}  // namespace meshd::discovery
