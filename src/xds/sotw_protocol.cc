#include "xds/sotw_protocol.h"

namespace meshd::xds {

RequestOutcome SotwProtocol::handle(const Request& request) {
  RequestOutcome out;
  out.typeUrl = request.type_url();
  if (out.typeUrl.empty()) return out;
  auto it = types_.find(out.typeUrl);
  const std::string& nonce = request.response_nonce();
  // A stale request was sent before the proxy saw our latest response; the answer to that response
  // will repeat the names, so nothing is lost by ignoring this one.
  if (!nonce.empty() && (it == types_.end() || nonce != it->second.lastNonce)) return out;
  TypeState& t = it == types_.end() ? types_[out.typeUrl] : it->second;

  t.names.clear();
  bool star = false;
  for (const std::string& name : request.resource_names()) {
    if (name == "*") star = true;
    else t.names.insert(name);
  }
  t.wildcard = isStateOfTheWorld(out.typeUrl) && (star || t.names.empty());
  if (t.wildcard) t.names.clear();

  if (nonce.empty()) {
    out.kind = RequestOutcome::Kind::kSubscribe;
  } else if (request.has_error_detail()) {
    // Keep what was sent as sent: the same version must not go out again, only a newer one.
    out.kind = RequestOutcome::Kind::kNack;
    out.reason = request.error_detail().message();
  } else {
    out.kind = RequestOutcome::Kind::kAck;
    out.version = request.version_info();
  }
  return out;
}

void SotwProtocol::setSnapshot(std::shared_ptr<const Snapshot> snapshot) { snapshot_ = std::move(snapshot); }

std::string SotwProtocol::versionFor(const std::string& typeUrl, const TypeState& t) const {
  return t.wildcard ? snapshot_->versionOf(typeUrl) : snapshot_->versionOf(typeUrl, t.names);
}

std::vector<SotwProtocol::Response> SotwProtocol::takeResponses() {
  std::vector<Response> out;
  if (!snapshot_) return out;  // the node has no configuration yet: wait for it
  for (const std::string& type : inPushOrder(types_)) {
    TypeState& t = types_.find(type)->second;
    if (!t.wildcard && t.names.empty()) continue;
    std::string version = versionFor(type, t);
    // A wildcard type answers its first request even when empty (the proxy waits for it to finish
    // starting). A named type with none of its names present waits: an empty answer would make a
    // warming cluster or listener give up on the resource.
    bool due = t.sent ? version != t.sentVersion : (t.wildcard || !version.empty());
    if (!due) continue;

    Response& r = out.emplace_back();
    r.set_type_url(type);
    r.set_version_info(snapshot_->versionOf(type));
    r.set_nonce(std::to_string(++nonces_));
    if (const auto* set = snapshot_->ofType(type)) {
      for (const auto& [name, resource] : *set) {
        if (t.wildcard || t.names.count(name)) *r.add_resources() = resource.body;
      }
    }
    t.sent = true;
    t.sentVersion = std::move(version);
    t.lastNonce = r.nonce();
  }
  return out;
}

}  // namespace meshd::xds
