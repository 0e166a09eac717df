#include "model/validate.h"

namespace meshd::model {
namespace {

using nlohmann::json;

std::string join(const std::string& path, const std::string& member) {
  return path.empty() ? member : path + "." + member;
}

std::string where(const std::string& path) { return path.empty() ? "request" : path; }

size_t codePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

Status invalid(const std::string& path, const std::string& what) {
  return badRequest(where(path) + ": " + what);
}

Status checkLength(const Shape& shape, int64_t n, const std::string& path, const char* unit) {
  if (shape.min && n < *shape.min) {
    return invalid(path, "must have at least " + std::to_string(*shape.min) + " " + unit);
  }
  if (shape.max && n > *shape.max) {
    return invalid(path, "must have at most " + std::to_string(*shape.max) + " " + unit);
  }
  return okStatus();
}

Status validateStructure(const Shape& shape, const json& value, const std::string& path) {
  if (!value.is_object()) return invalid(path, "expected an object");
  for (auto& [name, _] : value.items()) {
    if (!shape.findMember(name)) return invalid(join(path, name), "unknown field");
  }
  for (const std::string& r : shape.required) {
    if (!value.contains(r)) return invalid(join(path, r), "required field is missing");
  }
  if (shape.isUnion) {
    size_t set = 0;
    std::string names;
    for (const Member& m : shape.members) {
      names += (names.empty() ? "" : ", ") + m.name;
      set += value.contains(m.name);
    }
    if (set != 1) return invalid(path, "exactly one of " + names + " must be set");
  }
  for (const Member& m : shape.members) {
    auto it = value.find(m.name);
    if (it == value.end()) continue;
    MESHD_RETURN_IF_ERROR(validate(*m.shape, *it, join(path, m.name)));
  }
  return okStatus();
}

Status validateString(const Shape& shape, const json& value, const std::string& path) {
  if (!value.is_string()) return invalid(path, "expected a string");
  const std::string& s = value.get_ref<const std::string&>();
  if (!shape.enumValues.empty()) {
    for (const std::string& e : shape.enumValues) {
      if (s == e) return okStatus();
    }
    std::string allowed;
    for (const std::string& e : shape.enumValues) allowed += (allowed.empty() ? "" : ", ") + e;
    return invalid(path, "'" + s + "' is not one of " + allowed);
  }
  MESHD_RETURN_IF_ERROR(checkLength(shape, static_cast<int64_t>(codePoints(s)), path, "characters"));
  if (shape.pattern && !std::regex_search(s, *shape.pattern)) {
    return invalid(path, "'" + s + "' does not match " + shape.patternText);
  }
  return okStatus();
}

Status validateNumber(const Shape& shape, const json& value, const std::string& path) {
  bool integral = shape.type == Shape::Type::kInteger || shape.type == Shape::Type::kLong;
  if (integral ? !value.is_number_integer() : !value.is_number()) {
    return invalid(path, integral ? "expected an integer" : "expected a number");
  }
  double v = value.get<double>();
  if (shape.type == Shape::Type::kInteger && (v > 2147483647.0 || v < -2147483648.0)) {
    return invalid(path, "is out of the 32-bit integer range");
  }
  if (shape.min && v < static_cast<double>(*shape.min)) {
    return invalid(path, value.dump() + " is less than the minimum " + std::to_string(*shape.min));
  }
  if (shape.max && v > static_cast<double>(*shape.max)) {
    return invalid(path, value.dump() + " is greater than the maximum " + std::to_string(*shape.max));
  }
  return okStatus();
}

}  // namespace

Status validate(const Shape& shape, const json& value, const std::string& path) {
  switch (shape.type) {
    case Shape::Type::kStructure:
      return validateStructure(shape, value, path);
    case Shape::Type::kList: {
      if (!value.is_array()) return invalid(path, "expected a list");
      MESHD_RETURN_IF_ERROR(checkLength(shape, static_cast<int64_t>(value.size()), path, "items"));
      for (size_t i = 0; i < value.size(); ++i) {
        MESHD_RETURN_IF_ERROR(validate(*shape.member, value[i], path + "[" + std::to_string(i) + "]"));
      }
      return okStatus();
    }
    case Shape::Type::kMap: {
      if (!value.is_object()) return invalid(path, "expected a map");
      MESHD_RETURN_IF_ERROR(checkLength(shape, static_cast<int64_t>(value.size()), path, "entries"));
      for (auto& [k, v] : value.items()) {
        std::string p = path + "[\"" + k + "\"]";
        if (shape.key) MESHD_RETURN_IF_ERROR(validate(*shape.key, json(k), p));
        MESHD_RETURN_IF_ERROR(validate(*shape.value, v, p));
      }
      return okStatus();
    }
    case Shape::Type::kString:
      return validateString(shape, value, path);
    case Shape::Type::kBlob:
      return value.is_string() ? okStatus() : invalid(path, "expected a base64 string");
    case Shape::Type::kInteger:
    case Shape::Type::kLong:
    case Shape::Type::kDouble:
      return validateNumber(shape, value, path);
    case Shape::Type::kBoolean:
      return value.is_boolean() ? okStatus() : invalid(path, "expected true or false");
    case Shape::Type::kTimestamp:
      return value.is_number() || value.is_string() ? okStatus() : invalid(path, "expected a timestamp");
  }
  return okStatus();
}

void dropNulls(json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      if (it->is_null()) {
        it = value.erase(it);
      } else {
        dropNulls(*it);
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (json& v : value) dropNulls(v);
  }
}

}  // namespace meshd::model
