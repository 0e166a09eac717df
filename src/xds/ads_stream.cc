#include "xds/ads_stream.h"

#include <spdlog/spdlog.h>

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

grpc::Status refusal(const Status& status) {
  auto code = status.kind() == ErrorKind::kNotFound ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::INVALID_ARGUMENT;
  return grpc::Status(code, status.message());
}

}  // namespace meshd::xds
