#pragma once
// The AWS JSON 1.1 protocol (Cloud Map's): POST / with X-Amz-Target "<prefix>.<Operation>" and the
// input as the JSON body; the output is the body of the answer; errors are status 400 (500 for
// faults) with {"__type": ..., "Message": ...}. Driven by a service model, like rest_json.h.

#include "api/http.h"
#include "api/rest_json.h"
#include "model/service_model.h"

namespace meshd::api {

class JsonRpcAdapter {
 public:
  JsonRpcAdapter(const model::ServiceModel& model, ServiceHandler& service);

  // Whether this request is addressed to this adapter's service (by its target prefix).
  bool accepts(const HttpRequest& req) const;
  HttpResponse handle(const HttpRequest& req) const;

 private:
  const model::ServiceModel& model_;
  ServiceHandler& service_;
};

// The JSON 1.1 error response for `status`; `status.type()` names the error when set.
HttpResponse jsonRpcError(const Status& status);

}  // namespace meshd::api
