#pragma once
// Small builders shared by the translator's parts: App Mesh durations, addresses, ADS config
// sources and typed configs. Pure functions.

#include <envoy/config/core/v3/address.pb.h>
#include <envoy/config/core/v3/config_source.pb.h>
#include <google/protobuf/any.pb.h>
#include <google/protobuf/duration.pb.h>

#include <nlohmann/json.hpp>

#include <string>

namespace meshd::xds {

// App Mesh's {"unit": "s"|"ms", "value": n} as a Duration.
google::protobuf::Duration duration(const nlohmann::json& appMeshDuration);
google::protobuf::Duration millis(int64_t ms);

envoy::config::core::v3::Address socketAddress(const std::string& address, uint32_t port, bool ipv4Compat = false);

// Config delivered over the same ADS stream.
envoy::config::core::v3::ConfigSource adsConfigSource();

template <typename M>
google::protobuf::Any pack(const M& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  return any;
}

}  // namespace meshd::xds
