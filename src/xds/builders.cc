#include "xds/builders.h"

namespace meshd::xds {

google::protobuf::Duration millis(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return d;
}

google::protobuf::Duration duration(const nlohmann::json& d) {
  int64_t value = d.value("value", int64_t{0});
  return millis(d.value("unit", "ms") == "s" ? value * 1000 : value);
}

envoy::config::core::v3::Address socketAddress(const std::string& address, uint32_t port, bool ipv4Compat) {
  envoy::config::core::v3::Address a;
  auto* s = a.mutable_socket_address();
  s->set_address(address);
  s->set_port_value(port);
  if (ipv4Compat) s->set_ipv4_compat(true);
  return a;
}

envoy::config::core::v3::ConfigSource adsConfigSource() {
  envoy::config::core::v3::ConfigSource c;
  c.mutable_ads();
  c.set_resource_api_version(envoy::config::core::v3::V3);
  return c;
}

}  // namespace meshd::xds
