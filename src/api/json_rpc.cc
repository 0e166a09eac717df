#include "api/json_rpc.h"

#include "common/encoding.h"
#include "model/validate.h"

namespace meshd::api {
namespace {

using nlohmann::json;

HttpResponse jsonResponse(int status, const json& body) {
  return {status, {{"content-type", "application/x-amz-json-1.1"}, {"x-amzn-requestid", uuid4()}}, body.dump()};
}

}  // namespace

JsonRpcAdapter::JsonRpcAdapter(const model::ServiceModel& model, ServiceHandler& service)
    : model_(model), service_(service) {}

bool JsonRpcAdapter::accepts(const HttpRequest& req) const {
  return req.header("x-amz-target").rfind(model_.targetPrefix() + ".", 0) == 0;
}

HttpResponse JsonRpcAdapter::handle(const HttpRequest& req) const {
  std::string target = req.header("x-amz-target");
  std::string name = target.substr(target.find('.') + 1);
  const model::Operation* op = model_.operation(name);
  if (req.method != "POST" || !op) {
    return jsonRpcError(badRequest("unknown operation " + name).withType("UnknownOperationException"));
  }
  json input = json::object();
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    input = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (input.is_discarded() || !input.is_object()) {
      return jsonRpcError(badRequest("request body is not a JSON object").withType("SerializationException"));
    }
    model::dropNulls(input);
  }
  if (op->input) {
    if (Status st = model::validate(*op->input, input); !st.ok()) return jsonRpcError(st);
  }
  auto output = service_.call(*op, input);
  if (!output.ok()) return jsonRpcError(output.status());
  return jsonResponse(200, *output);
}

HttpResponse jsonRpcError(const Status& status) {
  static const std::map<ErrorKind, const char*> kTypes = {
      {ErrorKind::kBadRequest, "InvalidInput"},
      {ErrorKind::kNotFound, "ResourceNotFoundException"},
      {ErrorKind::kConflict, "DuplicateRequest"},
      {ErrorKind::kResourceInUse, "ResourceInUse"},
      {ErrorKind::kLimitExceeded, "ResourceLimitExceeded"},
      {ErrorKind::kTooManyTags, "TooManyTagsException"},
      {ErrorKind::kTooManyRequests, "RequestLimitExceeded"},
  };
  auto it = kTypes.find(status.kind());
  std::string type = !status.type().empty() ? status.type() : it != kTypes.end() ? it->second : "InternalFailure";
  int code = status.kind() == ErrorKind::kInternal || status.kind() == ErrorKind::kServiceUnavailable ? 500 : 400;
  HttpResponse r = jsonResponse(code, json{{"__type", type}, {"Message", status.message()}});
  r.headers.emplace_back("x-amzn-errortype", type);
  return r;
}

}  // namespace meshd::api
