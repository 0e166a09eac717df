#include "discovery/cloudmap_service.h"

#include <chrono>

#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

CloudMapService::CloudMapService(store::Store& store, CloudMapConfig config)
    : store_(store), config_(std::move(config)) {}

StatusOr<json> CloudMapService::call(const model::Operation& op, const json& input) {
  const std::string& n = op.name;
  if (n == "CreateHttpNamespace") return createNamespace("HTTP", input);
  if (n == "CreatePrivateDnsNamespace") return createNamespace("DNS_PRIVATE", input);
  if (n == "CreatePublicDnsNamespace") return createNamespace("DNS_PUBLIC", input);
  if (n == "GetNamespace") return getNamespace(input);
  if (n == "ListNamespaces") return listNamespaces(input);
  if (n == "UpdateHttpNamespace") return updateNamespace("HTTP", input);
  if (n == "UpdatePrivateDnsNamespace") return updateNamespace("DNS_PRIVATE", input);
  if (n == "UpdatePublicDnsNamespace") return updateNamespace("DNS_PUBLIC", input);
  if (n == "DeleteNamespace") return deleteNamespace(input);
  if (n == "CreateService") return createService(input);
  if (n == "GetService") return getService(input);
  if (n == "ListServices") return listServices(input);
  if (n == "UpdateService") return updateService(input);
  if (n == "DeleteService") return deleteService(input);
  if (n == "RegisterInstance") return registerInstance(input);
  if (n == "DeregisterInstance") return deregisterInstance(input);
  if (n == "GetInstance") return getInstance(input);
  if (n == "ListInstances") return listInstances(input);
  if (n == "GetInstancesHealthStatus") return getInstancesHealthStatus(input);
  if (n == "UpdateInstanceCustomHealthStatus") return updateInstanceCustomHealthStatus(input);
  if (n == "DiscoverInstances") return discoverInstances(input);
  if (n == "DiscoverInstancesRevision") {
    auto r = discoverInstances({{"NamespaceName", input["NamespaceName"]}, {"ServiceName", input["ServiceName"]},
                                {"MaxResults", 1}});
    if (!r.ok()) return r.status();
    return json{{"InstancesRevision", (*r)["InstancesRevision"]}};
  }
  if (n == "GetOperation") return getOperation(input);
  if (n == "ListOperations") return listOperations(input);
  if (n == "TagResource") return tagResource(input);
  if (n == "UntagResource") return untagResource(input);
  if (n == "ListTagsForResource") return listTagsForResource(input);
  return internalError("operation " + n + " is not implemented");
}

double CloudMapService::now() const {
  if (config_.now) return config_.now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ms.count()) / 1000.0;
}

std::string CloudMapService::arn(const std::string& kind, const std::string& id) const {
  return "arn:aws:servicediscovery:" + config_.region + ":" + config_.account + ":" + kind + "/" + id;
}

StatusOr<store::KeyValue> CloudMapService::loadNamespace(const std::string& id) {
  auto kv = store_.get(keys::ns(id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return Status(ErrorKind::kNotFound, "namespace " + id + " not found").withType("NamespaceNotFound");
  return std::move(**kv);
}

StatusOr<store::KeyValue> CloudMapService::loadService(const std::string& id) {
  auto kv = store_.get(keys::service(id));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return Status(ErrorKind::kNotFound, "service " + id + " not found").withType("ServiceNotFound");
  return std::move(**kv);
}

StatusOr<std::vector<store::KeyValue>> CloudMapService::listAll(const std::string& prefix) {
  return store::listAll(store_, prefix);
}

std::string CloudMapService::newOperation(const std::string& type, const json& targets, store::Op* write) {
  std::string id = randomToken(32) + "-" + randomToken(8);
  double t = now();
  json op = {{"Id", id}, {"Type", type}, {"Status", "SUCCESS"}, {"CreateDate", t}, {"UpdateDate", t},
             {"Targets", targets}};
  *write = {store::Op::Type::kPut, keys::operation(id), op.dump()};
  return id;
}

StatusOr<store::KeyValue> CloudMapService::loadByArn(const std::string& resourceArn) {
  std::string prefix = "arn:aws:servicediscovery:" + config_.region + ":" + config_.account + ":";
  auto notFound = [&] {
    return Status(ErrorKind::kNotFound, "no resource has the ARN " + resourceArn).withType("ResourceNotFoundException");
  };
  if (resourceArn.rfind(prefix, 0) != 0) return notFound();
  std::string rest = resourceArn.substr(prefix.size());
  std::string key;
  if (rest.rfind("namespace/", 0) == 0) key = keys::ns(rest.substr(10));
  else if (rest.rfind("service/", 0) == 0) key = keys::service(rest.substr(8));
  else return notFound();
  auto kv = store_.get(key);
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return notFound();
  return std::move(**kv);
}

json paginate(const json& items, const json& input, const std::string& field, Status* error) {
  size_t offset = 0;
  if (input.contains("NextToken")) {
    auto raw = base64UrlDecode(input["NextToken"].get<std::string>());
    try {
      if (!raw || raw->rfind("offset:", 0) != 0) throw std::invalid_argument("token");
      offset = std::stoull(raw->substr(7));
    } catch (...) {
      *error = badRequest("NextToken is not valid").withType("InvalidInput");
      return {};
    }
  }
  size_t limit = static_cast<size_t>(input.value("MaxResults", 100));
  json out = {{field, json::array()}};
  for (size_t i = offset; i < items.size() && i < offset + limit; ++i) out[field].push_back(items[i]);
  if (offset + limit < items.size()) out["NextToken"] = base64UrlEncode("offset:" + std::to_string(offset + limit));
  return out;
}

}  // namespace meshd::discovery
