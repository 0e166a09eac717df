#pragma once
// The Cloud Map (servicediscovery 2017-03-14) API's semantics over the store: namespaces (HTTP,
// private and public DNS), services with DNS and health-check configuration, instances with the
// AWS_INSTANCE_* attributes, discovery, operations and tags. Inputs arrive validated against the
// service model (api/json_rpc.h); this class adds the rules the schema cannot state.
//
// Thread-safe: writes are serialized by one mutex so that checks made before a write still hold
// when it commits; reads go straight to the store.

#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <string>

#include "api/rest_json.h"
#include "store/store.h"

namespace meshd::discovery {

struct CloudMapConfig {
  std::string region = "us-west-2";
  std::string account = "123456789012";
  std::function<double()> now;  // epoch seconds; the system clock when empty
};

class CloudMapService final : public api::ServiceHandler {
 public:
  CloudMapService(store::Store& store, CloudMapConfig config);

  // api::ServiceHandler
  StatusOr<nlohmann::json> call(const model::Operation& op, const nlohmann::json& input) override;

 private:
  using json = nlohmann::json;

  // Namespaces (cloudmap_namespaces.cc)
  StatusOr<json> createNamespace(const std::string& type, const json& input);
  StatusOr<json> getNamespace(const json& input);
  StatusOr<json> listNamespaces(const json& input);
  StatusOr<json> updateNamespace(const std::string& type, const json& input);
  StatusOr<json> deleteNamespace(const json& input);
  // Services (cloudmap_services.cc)
  StatusOr<json> createService(const json& input);
  StatusOr<json> getService(const json& input);
  StatusOr<json> listServices(const json& input);
  StatusOr<json> updateService(const json& input);
  StatusOr<json> deleteService(const json& input);
  // Instances (cloudmap_instances.cc)
  StatusOr<json> registerInstance(const json& input);
  StatusOr<json> deregisterInstance(const json& input);
  StatusOr<json> getInstance(const json& input);
  StatusOr<json> listInstances(const json& input);
  StatusOr<json> getInstancesHealthStatus(const json& input);
  StatusOr<json> updateInstanceCustomHealthStatus(const json& input);
  StatusOr<json> discoverInstances(const json& input);
  // Operations and tags (cloudmap_operations.cc)
  StatusOr<json> getOperation(const json& input);
  StatusOr<json> listOperations(const json& input);
  StatusOr<json> tagResource(const json& input);
  StatusOr<json> untagResource(const json& input);
  StatusOr<json> listTagsForResource(const json& input);

  // Shared helpers (cloudmap_service.cc)
  StatusOr<store::KeyValue> loadNamespace(const std::string& id);
  StatusOr<store::KeyValue> loadService(const std::string& id);
  StatusOr<std::vector<store::KeyValue>> listAll(const std::string& prefix);
  // Records a finished operation; returns its id and the store op that writes it.
  std::string newOperation(const std::string& type, const json& targets, store::Op* write);
  // The tagged resource (namespace or service) that `arn` names.
  StatusOr<store::KeyValue> loadByArn(const std::string& arn);
  std::string arn(const std::string& kind, const std::string& id) const;
  double now() const;

  store::Store& store_;
  CloudMapConfig config_;
  std::mutex writeMu_;
};

// A page of `items` from `NextToken` (an opaque offset) with at most `MaxResults` (default 100).
nlohmann::json paginate(const nlohmann::json& items, const nlohmann::json& input, const std::string& field,
                        Status* error);

}  // namespace meshd::discovery
