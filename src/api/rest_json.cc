#include "api/rest_json.h"

#include <charconv>

#include "common/encoding.h"
#include "model/validate.h"

namespace meshd::api {
namespace {

using nlohmann::json;

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// Converts a query-string value to the JSON type of its shape.
StatusOr<json> fromQuery(const model::Shape& shape, const std::string& name, const std::string& v) {
  switch (shape.type) {
    case model::Shape::Type::kInteger:
    case model::Shape::Type::kLong: {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) return badRequest(name + ": expected an integer");
      return json(n);
    }
    case model::Shape::Type::kBoolean:
      if (v == "true" || v == "false") return json(v == "true");
      return badRequest(name + ": expected true or false");
    default:
      return json(v);
  }
}

HttpResponse jsonResponse(int status, const json& body) {
  return {status, {{"content-type", "application/json"}, {"x-amzn-requestid", uuid4()}}, body.dump()};
}

}  // namespace

RestJsonAdapter::RestJsonAdapter(const model::ServiceModel& model, ServiceHandler& service)
    : model_(model), service_(service) {}

const model::Operation* RestJsonAdapter::match(const std::string& method, const std::string& path,
                                               std::map<std::string, std::string>* params) const {
  auto have = segments(path);
  for (const model::Operation& op : model_.operations()) {
    if (op.method != method) continue;
    auto want = segments(op.uri);
    if (want.size() != have.size()) continue;
    std::map<std::string, std::string> bound;
    bool ok = true;
    for (size_t i = 0; i < want.size() && ok; ++i) {
      auto decoded = percentDecode(have[i]);
      if (!decoded) {
        ok = false;
      } else if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
        bound[std::string(want[i].substr(1, want[i].size() - 2))] = *decoded;
      } else {
        ok = want[i] == *decoded;
      }
    }
    if (ok) {
      *params = std::move(bound);
      return &op;
    }
  }
  return nullptr;
}

StatusOr<json> RestJsonAdapter::bind(const model::Operation& op, const HttpRequest& req,
                                     const std::map<std::string, std::string>& pathParams) const {
  json input = json::object();
  std::string_view body = req.body;
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    input = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (input.is_discarded()) return badRequest("request body is not valid JSON");
    if (!input.is_object()) return badRequest("request body must be a JSON object");
    model::dropNulls(input);
  }
  size_t q = req.target.find('?');
  auto query = parseQuery(q == std::string::npos ? "" : std::string_view(req.target).substr(q + 1));
  if (!query) return badRequest("malformed query string");
  if (!op.input) return input;
  for (const model::Member& m : op.input->members) {
    if (m.location.empty()) continue;
    // A located member is not a body field: the body may not carry it.
    if (input.contains(m.name)) return badRequest(m.name + ": unknown field");
    std::optional<std::string> value;
    if (m.location == "uri") {
      auto it = pathParams.find(m.locationName);
      if (it != pathParams.end()) value = it->second;
    } else if (m.location == "querystring") {
      auto it = query->find(m.locationName);
      if (it != query->end()) value = it->second;
    } else if (m.location == "header") {
      std::string h = m.locationName;
      for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (req.headers.count(h)) value = req.header(h);
    }
    if (!value) continue;
    auto v = fromQuery(*m.shape, m.name, *value);
    if (!v.ok()) return v.status();
    input[m.name] = std::move(*v);
  }
  MESHD_RETURN_IF_ERROR(model::validate(*op.input, input));
  return input;
}

HttpResponse RestJsonAdapter::handle(const HttpRequest& req) const {
  std::string path = req.target.substr(0, req.target.find('?'));
  std::map<std::string, std::string> params;
  const model::Operation* op = match(req.method, path, &params);
  if (!op) {
    return {404,
            {{"content-type", "application/json"}, {"x-amzn-errortype", "UnknownOperationException"}},
            json{{"message", "no operation serves " + req.method + " " + path}}.dump()};
  }
  auto input = bind(*op, req, params);
  if (!input.ok()) return restJsonError(input.status());
  auto output = service_.call(*op, *input);
  if (!output.ok()) return restJsonError(output.status());
  if (op->output && !op->output->payload.empty()) {
    return jsonResponse(200, output->value(op->output->payload, json::object()));
  }
  return jsonResponse(200, *output);
}

HttpRequest restJsonRequest(const model::Operation& op, const json& input) {
  HttpRequest req;
  req.method = op.method;
  json body = input;
  std::string path = op.uri, query;
  for (const model::Member& m : op.input ? op.input->members : std::vector<model::Member>{}) {
    if (m.location.empty() || !input.contains(m.name)) continue;
    const json& v = input[m.name];
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    body.erase(m.name);
    if (m.location == "uri") {
      std::string placeholder = "{" + m.locationName + "}";
      size_t at = path.find(placeholder);
      if (at != std::string::npos) path.replace(at, placeholder.size(), percentEncode(text));
    } else if (m.location == "querystring") {
      query += (query.empty() ? "?" : "&") + percentEncode(m.locationName) + "=" + percentEncode(text);
    } else {
      req.headers[m.locationName] = text;
    }
  }
  req.target = path + query;
  if (op.method != "GET" && op.method != "DELETE") req.body = body.dump();
  req.headers["content-type"] = "application/json";
  return req;
}

HttpResponse restJsonError(const Status& status) {
  struct Wire {
    const char* type;
    int code;
  };
  static const std::map<ErrorKind, Wire> kWire = {
      {ErrorKind::kBadRequest, {"BadRequestException", 400}},
      {ErrorKind::kNotFound, {"NotFoundException", 404}},
      {ErrorKind::kConflict, {"ConflictException", 409}},
      {ErrorKind::kResourceInUse, {"ResourceInUseException", 409}},
      {ErrorKind::kLimitExceeded, {"LimitExceededException", 400}},
      {ErrorKind::kTooManyTags, {"TooManyTagsException", 400}},
      {ErrorKind::kTooManyRequests, {"TooManyRequestsException", 429}},
      {ErrorKind::kForbidden, {"ForbiddenException", 403}},
      {ErrorKind::kServiceUnavailable, {"ServiceUnavailableException", 503}},
      {ErrorKind::kInternal, {"InternalServerErrorException", 500}},
  };
  auto it = kWire.find(status.kind());
  Wire w = it == kWire.end() ? Wire{"InternalServerErrorException", 500} : it->second;
  std::string type = status.type().empty() ? w.type : status.type();
  HttpResponse r = jsonResponse(w.code, json{{"message", status.message()}});
  r.headers.emplace_back("x-amzn-errortype", type);
  return r;
}

}  // namespace meshd::api
