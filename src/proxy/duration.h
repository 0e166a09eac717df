#pragma once
// A configuration's protobuf Duration, to the millisecond.

#include <google/protobuf/duration.pb.h>

#include <chrono>

namespace meshd::proxy {

inline std::chrono::milliseconds toMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

}  // namespace meshd::proxy
