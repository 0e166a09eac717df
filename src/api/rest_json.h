#pragma once
// The AWS rest-json protocol, driven by a service model: finds the operation from method and path,
// binds URI, query and body members into one input object, validates it against the operation's
// input shape, calls the service, and writes the output (or the error) as the protocol wants.

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "common/status.h"
#include "model/service_model.h"

namespace meshd::api {

// What a service implements: `input` has been validated against op.input.
class ServiceHandler {
 public:
  virtual ~ServiceHandler() = default;
  virtual StatusOr<nlohmann::json> call(const model::Operation& op, const nlohmann::json& input) = 0;
};

class RestJsonAdapter {
 public:
  RestJsonAdapter(const model::ServiceModel& model, ServiceHandler& service);

  HttpResponse handle(const HttpRequest& req) const;

  // The operation serving method + path, with the path's parameters bound into `params`.
  const model::Operation* match(const std::string& method, const std::string& path,
                                std::map<std::string, std::string>* params) const;

 private:
  StatusOr<nlohmann::json> bind(const model::Operation& op, const HttpRequest& req,
                                const std::map<std::string, std::string>& pathParams) const;

  const model::ServiceModel& model_;
  ServiceHandler& service_;
};

// The request a client sends for `op` with `input`: URI and query members in the target, the rest
// as the JSON body. The inverse of RestJsonAdapter's binding, used by meshctl.
HttpRequest restJsonRequest(const model::Operation& op, const nlohmann::json& input);

// status, x-amzn-ErrorType and {"message": ...}, as App Mesh sends them.
HttpResponse restJsonError(const Status& status);

}  // namespace meshd::api
