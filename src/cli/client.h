#pragma once
// meshctl's client of meshd's API: sends one operation of a service model over HTTP and returns
// the decoded output, or the API's error as a Status whose type() is the wire error type.

#include <nlohmann/json.hpp>

#include <string>

#include "common/status.h"
#include "model/service_model.h"

namespace meshd::cli {

class Client {
 public:
  // `endpoint`: http://host:port
  static StatusOr<Client> connectTo(const std::string& endpoint);

  StatusOr<nlohmann::json> call(const std::string& operation, const nlohmann::json& input) const;

 private:
  Client(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}
  std::string host_;
  std::string port_;
};

}  // namespace meshd::cli
