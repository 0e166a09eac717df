#include "xds/ads_stream.h"

#include <spdlog/spdlog.h>

#include "xds/bootstrap.h"

namespace meshd::xds {

void reportOutcome(SnapshotCache& cache, uint64_t streamId, const RequestOutcome& outcome) {
  switch (outcome.kind) {
    case RequestOutcome::Kind::kIgnored:
    case RequestOutcome::Kind::kSubscribe:
      return;
    case RequestOutcome::Kind::kAck:
      cache.streamUpdated(streamId, [&](ProxyStatus& p) { p.ackedVersion[outcome.typeUrl] = outcome.version; });
      return;
    case RequestOutcome::Kind::kNack:
      spdlog::warn("msg=\"proxy rejected configuration\" stream={} type={} reason=\"{}\"", streamId,
                   outcome.typeUrl, outcome.reason);
      cache.streamUpdated(streamId, [&](ProxyStatus& p) {
        p.lastNackType = outcome.typeUrl;
        p.lastNackReason = outcome.reason;
      });
      return;
  }
}

std::string peerAddress(const std::string& peer) {
  std::string_view p(peer);
  if (p.starts_with("ipv4:")) return std::string(p.substr(5, p.rfind(':') - 5));
  if (p.starts_with("ipv6:[")) return std::string(p.substr(6, p.rfind(']') - 6));
  return "";
}

uint32_t adminPort(const envoy::config::core::v3::Node& node) {
  auto it = node.metadata().fields().find(kAdminPortKey);
  if (it == node.metadata().fields().end() || !it->second.has_number_value()) return 0;
  double port = it->second.number_value();
  return port >= 1 && port <= 65535 ? static_cast<uint32_t>(port) : 0;
}

grpc::Status refusal(const Status& status) {
  auto code = status.kind() == ErrorKind::kNotFound ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::INVALID_ARGUMENT;
  return grpc::Status(code, status.message());
}

}  // namespace meshd::xds
