#pragma once
// Validation of a JSON value against a service-model shape, as the API's server side does it:
// types, required members, unknown members, enums (exact case), numeric ranges, string and list
// lengths, patterns and unions with exactly one member. Errors are BadRequest with a message that
// names the offending field by its path (spec.listeners[0].healthCheck.intervalMillis).

#include <nlohmann/json.hpp>

#include <string>

#include "common/status.h"
#include "model/service_model.h"

namespace meshd::model {

Status validate(const Shape& shape, const nlohmann::json& value, const std::string& path = "");

// Removes members whose value is null, recursively: clients use null for "absent".
void dropNulls(nlohmann::json& value);

}  // namespace meshd::model
