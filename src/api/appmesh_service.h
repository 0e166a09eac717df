#pragma once
// The App Mesh API's semantics over the store: create/describe/update/delete/list for the seven
// resource kinds, and tags. Inputs arrive validated against the service model (rest_json.h);
// this class adds what the schema cannot say: existence, references, in-use checks, quotas,
// versions, idempotency tokens and pagination.
//
// Thread-safe: reads go straight to the store; writes are serialized by one mutex so that the
// checks made before a write (a referenced node exists, a deleted node is not referenced) still
// hold when it commits.

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "api/rest_json.h"
#include "model/kind.h"
#include "model/resource_key.h"
#include "store/store.h"

namespace meshd::api {

// App Mesh's default service quotas.
struct Quotas {
  std::map<std::string, int64_t> limits = {
      {"meshes", 15},          {"virtualNodes", 500},   {"virtualRouters", 200}, {"virtualServices", 500},
      {"virtualGateways", 50}, {"routes", 50},          {"gatewayRoutes", 50},   {"backends", 50},
  };
  // Applies "name=value"; unknown names and bad values are an error.
  Status set(const std::string& assignment);
  int64_t of(const model::Kind& kind) const { return limits.at(std::string(kind.listField)); }
};

struct AppMeshConfig {
  std::string region = "us-west-2";
  std::string account = "123456789012";
  Quotas quotas;
  std::function<double()> now;  // epoch seconds; the system clock when empty
};

class AppMeshService final : public ServiceHandler {
 public:
  AppMeshService(store::Store& store, AppMeshConfig config);

  // ServiceHandler
  StatusOr<nlohmann::json> call(const model::Operation& op, const nlohmann::json& input) override;

 private:
  using json = nlohmann::json;

  StatusOr<json> create(const model::Kind& kind, const std::string& op, const json& input);
  StatusOr<json> describe(const model::ResourceId& id);
  StatusOr<json> update(const model::Kind& kind, const std::string& op, const json& input);
  StatusOr<json> remove(const model::ResourceId& id);
  StatusOr<json> list(const model::Kind& kind, const json& input);
  StatusOr<json> tagResource(const json& input);
  StatusOr<json> untagResource(const json& input);
  StatusOr<json> listTags(const json& input);
  // Loads the tags of the resource `arn` names, lets `edit` change them, and stores them back.
  StatusOr<json> editTags(const std::string& arn, const std::function<Status(json& tags)>& edit);

  model::ResourceId idFrom(const model::Kind& kind, const json& input) const;
  Status checkOwner(const json& input) const;
  StatusOr<std::optional<model::Record>> load(const model::ResourceId& id);
  StatusOr<store::KeyValue> loadExisting(const model::ResourceId& id);
  Status checkParentsExist(const model::ResourceId& id);
  Status checkReferencesExist(const model::ResourceId& id, const json& spec);
  Status checkNotInUse(const model::ResourceId& id);
  Status checkQuotas(const model::ResourceId& id);
  Status checkBackends(const json& spec) const;
  // Returns the stored answer when `token` repeats an earlier identical request.
  StatusOr<std::optional<json>> replay(const std::string& op, const model::ResourceId& id, const json& input,
                                       std::string* tokenKey, std::string* tokenValue);
  StatusOr<model::ResourceId> resolveArn(const std::string& arn) const;
  json refOf(const model::Kind& kind, const json& data) const;
  double now() const;

  store::Store& store_;
  AppMeshConfig config_;
  std::mutex writeMu_;
};

}  // namespace meshd::api
