#pragma once
// meshctl's client of meshd's API: sends one operation of a service model over HTTP and returns
// the decoded output, or the API's error as a Status whose type() is the wire error type.

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "common/status.h"
#include "model/service_model.h"

namespace meshd::cli {

class Client {
 public:
  // `endpoint`: http://host:port
  static StatusOr<Client> connectTo(const std::string& endpoint);

  // An App Mesh operation (rest-json).
  StatusOr<nlohmann::json> call(const std::string& operation, const nlohmann::json& input) const;
  // A Cloud Map operation (JSON 1.1).
  StatusOr<nlohmann::json> callCloudMap(const std::string& operation, const nlohmann::json& input) const;
  // One of meshd's own JSON endpoints (static DNS records).
  StatusOr<nlohmann::json> request(const std::string& method, const std::string& target,
                                   const std::string& body = "") const;

 private:
  struct Response {
    int status = 0;
    std::string errorType;  // x-amzn-errortype without its ":..." suffix
    std::string body;
  };
  StatusOr<Response> send(const std::string& method, const std::string& target,
                          const std::map<std::string, std::string>& headers, const std::string& body) const;
  // The API's error as a Status carrying the wire type.
  static Status errorOf(const Response& r);

  Client(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}
  std::string host_;
  std::string port_;
};

}  // namespace meshd::cli
