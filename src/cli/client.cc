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

StatusOr<json> Client::call(const std::string& operation, const json& input) const {
  const model::Operation* op = model::ServiceModel::appMesh().operation(operation);
  if (!op) return internalError("unknown operation " + operation);
  api::HttpRequest req = api::restJsonRequest(*op, input);
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> r{req.method == "GET"      ? http::verb::get
                                       : req.method == "DELETE" ? http::verb::delete_
                                       : req.method == "POST"   ? http::verb::post
                                                                : http::verb::put,
                                       req.target, 11};
    r.set(http::field::host, host_ + ":" + port_);
    for (const auto& [k, v] : req.headers) r.set(k, v);
    r.body() = req.body;
    r.prepare_payload();
    http::write(stream, r);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    json body = json::parse(res.body().empty() ? "{}" : res.body(), nullptr, false);
    if (res.result_int() / 100 == 2) {
      if (body.is_discarded()) return internalError("meshd sent a body that is not JSON");
      if (op->output && !op->output->payload.empty()) return json{{op->output->payload, body}};
      return body;
    }
    std::string type(res["x-amzn-errortype"]);
    type = type.substr(0, type.find(':'));
    std::string message = body.is_object() ? body.value("message", "") : res.body();
    return Status(kindOfType(type), message).withType(type.empty() ? "HTTP " + std::to_string(res.result_int()) : type);
  } catch (const std::exception& e) {
    return Status(ErrorKind::kServiceUnavailable, "cannot reach meshd at " + host_ + ":" + port_ + ": " + e.what())
        .withType("ConnectionError");
  }
}

}  // namespace meshd::cli
