#pragma once
// Where the Cloud Map registry lives in the store. Values are JSON: {"data": <API shape>, "tags": [...]}
// for namespaces and services; the instance and operation shapes themselves for the others.
//
//   cloudmap/namespace/<id>
//   cloudmap/service/<id>
//   cloudmap/instance/<service id>/<instance id>
//   cloudmap/operation/<id>
//   cloudmap/revision/<service id>   touched with every instance change of the service
//   dns/static/<name>            static records for plain-DNS discovery (see static_records.h)

#include <string>

#include "common/encoding.h"

namespace meshd::discovery::keys {

inline const std::string kNamespaces = "cloudmap/namespace/";
inline const std::string kServices = "cloudmap/service/";
inline const std::string kInstances = "cloudmap/instance/";
inline const std::string kOperations = "cloudmap/operation/";
inline const std::string kStaticRecords = "dns/static/";

inline std::string ns(const std::string& id) { return kNamespaces + id; }
inline std::string service(const std::string& id) { return kServices + id; }
inline std::string instancesOf(const std::string& serviceId) { return kInstances + serviceId + "/"; }
inline std::string instance(const std::string& serviceId, const std::string& id) {
  return instancesOf(serviceId) + percentEncode(id);
}
// Written with every instance change, so its modRevision is the service's instances revision.
inline std::string instancesRevision(const std::string& serviceId) { return "cloudmap/revision/" + serviceId; }
inline std::string operation(const std::string& id) { return kOperations + id; }
inline std::string staticRecord(const std::string& name) { return kStaticRecords + percentEncode(name); }

}  // namespace meshd::discovery::keys
