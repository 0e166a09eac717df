#pragma once
// A snapshot: everything one proxy should have, as a plain immutable value (go-control-plane's
// idea). Published as std::shared_ptr<const Snapshot>; a new configuration is a new snapshot.

#include <google/protobuf/any.pb.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meshd::xds {

// One resource, serialized once: every stream sends the same bytes.
struct Resource {
  std::string name;
  google::protobuf::Any body;  // the resource packed with its type URL
  std::string version;         // a hash of the body: changes exactly when the resource does
};

struct Snapshot {
  // type URL -> resource name -> resource
  std::map<std::string, std::map<std::string, Resource>, std::less<>> resources;

  // The version of one type's set: a hash of its names and versions ("" when the type is empty).
  std::string versionOf(std::string_view typeUrl) const;
  // The version of the subset of one type's resources that `names` selects (absent names are
  // skipped); equals versionOf(typeUrl) when `names` covers the whole set.
  std::string versionOf(std::string_view typeUrl, const std::set<std::string>& names) const;
  const std::map<std::string, Resource>* ofType(std::string_view typeUrl) const;

  // Every route config a listener's HTTP connection managers name over RDS and every endpoint set
  // an EDS cluster names is present; else BadRequest naming the first thing missing.
  Status checkConsistent() const;
};

// Packs `message` as a Resource named `name`. Serialization is deterministic (map fields sorted),
// so equal messages get equal bytes and equal versions.
Resource makeResource(const std::string& name, const google::protobuf::Message& message);

}  // namespace meshd::xds
