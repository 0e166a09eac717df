#include "xds/delta_protocol.h"

namespace meshd::xds {

RequestOutcome DeltaProtocol::handle(const Request& request) {
  RequestOutcome out;
  out.typeUrl = request.type_url();
  if (out.typeUrl.empty()) return out;
  auto [it, first] = types_.try_emplace(out.typeUrl);
  TypeState& t = it->second;

  if (first) t.wildcard = isStateOfTheWorld(out.typeUrl) && request.resource_names_subscribe().empty();
  for (const std::string& name : request.resource_names_subscribe()) {
    if (name == "*") {
      t.wildcard = true;
      continue;
    }
    t.names.insert(name);
    // Asked for by name after the start: the proxy wants it whatever we think it holds.
    if (!first) t.held.erase(name);
  }
  for (const std::string& name : request.resource_names_unsubscribe()) {
    if (name == "*") {
      t.wildcard = false;
      continue;
    }
    t.names.erase(name);
    t.held.erase(name);
  }
  // Only a stream's first request of a type says what the proxy already has (from its last stream).
  if (first) {
    for (const auto& [name, version] : request.initial_resource_versions()) t.held[name] = version;
  }

  const std::string& nonce = request.response_nonce();
  if (nonce.empty()) {
    out.kind = RequestOutcome::Kind::kSubscribe;
  } else if (nonce != t.lastNonce) {
    // Stale: it answers a response that has been superseded (its subscription changes applied above).
  } else if (request.has_error_detail()) {
    // What was sent stays recorded as held, so the rejected versions are not sent again.
    out.kind = RequestOutcome::Kind::kNack;
    out.reason = request.error_detail().message();
  } else {
    out.kind = RequestOutcome::Kind::kAck;
    out.version = t.lastSystemVersion;
  }
  return out;
}

void DeltaProtocol::setSnapshot(std::shared_ptr<const Snapshot> snapshot) { snapshot_ = std::move(snapshot); }

std::vector<DeltaProtocol::Response> DeltaProtocol::takeResponses() {
  std::vector<Response> out;
  if (!snapshot_) return out;  // the node has no configuration yet: wait for it
  for (const std::string& type : inPushOrder(types_)) {
    TypeState& t = types_.find(type)->second;
    auto wanted = [&](const std::string& name) { return t.wildcard || t.names.count(name) > 0; };
    const auto* set = snapshot_->ofType(type);

    Response r;
    if (set != nullptr) {
      for (const auto& [name, resource] : *set) {
        if (!wanted(name)) continue;
        auto held = t.held.find(name);
        if (held != t.held.end() && held->second == resource.version) continue;
        auto* added = r.add_resources();
        added->set_name(name);
        added->set_version(resource.version);
        *added->mutable_resource() = resource.body;
        t.held[name] = resource.version;
      }
    }
    for (auto h = t.held.begin(); h != t.held.end();) {
      if (!wanted(h->first)) {
        h = t.held.erase(h);  // no longer subscribed: the proxy drops it itself
      } else if (set == nullptr || !set->count(h->first)) {
        r.add_removed_resources(h->first);
        h = t.held.erase(h);
      } else {
        ++h;
      }
    }
    // A wildcard type answers its first request even with nothing to say: the proxy waits for
    // that answer to finish starting.
    bool due = r.resources_size() > 0 || r.removed_resources_size() > 0 || (t.wildcard && !t.answered);
    if (!due) continue;
    r.set_type_url(type);
    r.set_system_version_info(snapshot_->versionOf(type));
    r.set_nonce(std::to_string(++nonces_));
    t.answered = true;
    t.lastNonce = r.nonce();
    t.lastSystemVersion = r.system_version_info();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace meshd::xds
