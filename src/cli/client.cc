#include "cli/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/rest_json.h"

namespace meshd::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

ErrorKind kindOfType(const std::string& type) {
  static const std::map<std::string, ErrorKind> kKinds = {
      {"BadRequestException", ErrorKind::kBadRequest},   {"NotFoundException", ErrorKind::kNotFound},
      {"ConflictException", ErrorKind::kConflict},       {"ResourceInUseException", ErrorKind::kResourceInUse},
      {"LimitExceededException", ErrorKind::kLimitExceeded}, {"TooManyTagsException", ErrorKind::kTooManyTags},
      {"TooManyRequestsException", ErrorKind::kTooManyRequests}};
  auto it = kKinds.find(type);
  return it == kKinds.end() ? ErrorKind::kInternal : it->second;
}

}  // namespace

StatusOr<Client> Client::connectTo(const std::string& endpoint) {
  std::string rest = endpoint;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) return badRequest("endpoint must be http://host:port: " + endpoint);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find(']', colon) != std::string::npos) return Client(rest, "80");
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return Client(host, rest.substr(colon + 1));
}

StatusOr<Client::Response> Client::send(const std::string& method, const std::string& target,
                                        const std::map<std::string, std::string>& headers,
                                        const std::string& body) const {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> r{http::string_to_verb(method), target, 11};
    r.set(http::field::host, host_ + ":" + port_);
    for (const auto& [k, v] : headers) r.set(k, v);
    r.body() = body;
    r.prepare_payload();
    http::write(stream, r);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    std::string type(res["x-amzn-errortype"]);
    return Response{static_cast<int>(res.result_int()), type.substr(0, type.find(':')), res.body()};
  } catch (const std::exception& e) {
    return Status(ErrorKind::kServiceUnavailable, "cannot reach meshd at " + host_ + ":" + port_ + ": " + e.what())
        .withType("ConnectionError");
  }
}

Status Client::errorOf(const Response& r) {
  json body = json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  std::string type = r.errorType;
  std::string message = r.body;
  if (body.is_object()) {
    if (type.empty()) type = body.value("__type", "");
    message = body.contains("message") ? body.value("message", "") : body.value("Message", r.body);
  }
  ErrorKind kind = kindOfType(type);
  if (type.find("NotFound") != std::string::npos) kind = ErrorKind::kNotFound;
  return Status(kind, message).withType(type.empty() ? "HTTP " + std::to_string(r.status) : type);
}

StatusOr<json> Client::call(const std::string& operation, const json& input) const {
  const model::Operation* op = model::ServiceModel::appMesh().operation(operation);
  if (!op) return internalError("unknown operation " + operation);
  api::HttpRequest req = api::restJsonRequest(*op, input);
  auto r = send(req.method, req.target, req.headers, req.body);
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) return errorOf(*r);
  json body = json::parse(r->body.empty() ? "{}" : r->body, nullptr, false);
  if (body.is_discarded()) return internalError("meshd sent a body that is not JSON");
  if (op->output && !op->output->payload.empty()) return json{{op->output->payload, body}};
  return body;
}

StatusOr<json> Client::callCloudMap(const std::string& operation, const json& input) const {
  const auto& model = model::ServiceModel::cloudMap();
  auto r = send("POST", "/",
                {{"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", model.targetPrefix() + "." + operation}},
                input.dump());
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) return errorOf(*r);
  json body = json::parse(r->body.empty() ? "{}" : r->body, nullptr, false);
  if (body.is_discarded()) return internalError("meshd sent a body that is not JSON");
  return body;
}

StatusOr<json> Client::request(const std::string& method, const std::string& target, const std::string& body) const {
  auto r = send(method, target, {{"content-type", "application/json"}}, body);
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) return errorOf(*r);
  json out = json::parse(r->body.empty() ? "{}" : r->body, nullptr, false);
  if (out.is_discarded()) return internalError("meshd sent a body that is not JSON");
  return out;
}

}  // namespace meshd::cli
