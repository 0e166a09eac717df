#pragma once
// An AWS service model: the shapes and operations of an API as botocore's service-2.json defines
// them. meshd embeds the App Mesh and Cloud Map models shipped by Debian's awscli package and lets
// them drive validation and HTTP binding, so every field, range, enum and union matches the API.
//
// A ServiceModel is immutable after parse() and safe to share between threads.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meshd::model {

struct Shape;

struct Member {
  std::string name;
  const Shape* shape = nullptr;
  std::string location;      // "", "uri", "querystring" or "header"
  std::string locationName;  // name on the wire for uri/querystring/header members
  bool idempotencyToken = false;
};

struct Shape {
  enum class Type { kStructure, kList, kMap, kString, kInteger, kLong, kBoolean, kTimestamp, kDouble, kBlob };

  std::string name;
  Type type = Type::kString;
  std::vector<Member> members;  // structure members, in name order
  std::set<std::string> required;
  const Shape* member = nullptr;  // list element
  const Shape* key = nullptr;     // map key
  const Shape* value = nullptr;   // map value
  std::optional<int64_t> min, max;
  std::vector<std::string> enumValues;
  std::optional<std::regex> pattern;
  std::string patternText;
  bool isUnion = false;
  std::string payload;  // structure member that is the whole HTTP body
  bool isException = false;
  int httpStatus = 0;  // for exceptions

  const Member* findMember(std::string_view name) const;
};

struct Operation {
  std::string name;
  std::string method;
  std::string uri;  // template, e.g. /v20190125/meshes/{meshName}
  const Shape* input = nullptr;
  const Shape* output = nullptr;
  std::vector<std::string> errors;
};

class ServiceModel {
 public:
  static StatusOr<std::shared_ptr<const ServiceModel>> parse(std::string_view json);

  // The embedded models.
  static const ServiceModel& appMesh();
  static const ServiceModel& cloudMap();

  const Shape* shape(std::string_view name) const;
  const Operation* operation(std::string_view name) const;
  const std::vector<Operation>& operations() const { return operations_; }
  const std::string& protocol() const { return protocol_; }
  const std::string& targetPrefix() const { return targetPrefix_; }

 private:
  std::map<std::string, std::unique_ptr<Shape>, std::less<>> shapes_;
  std::vector<Operation> operations_;
  std::string protocol_;
  std::string targetPrefix_;
};

}  // namespace meshd::model
