#pragma once
// `meshctl diagnose`: predicts, from the registered addresses and the effective IP preferences,
// what a caller (a virtual gateway or node) will see for each virtual node it can reach, and why:
// - service discovery: no address of a family the target's preference allows → "no healthy upstream";
// - connection: the caller picks an IPv6 address but the target's sidecar listens on 0.0.0.0 only
//   → "upstream connect error" from the caller;
// - application: the family the target's sidecar uses to reach its own app (127.0.0.1 or ::1);
//   the app must accept it, else "upstream connect error" from the target's sidecar.
// - and, when the callers' proxies report their health-check verdicts (proxy_health.h), whether
//   the target's app actually accepts that family: a failing check of a target otherwise reachable
//   is an "application" failure.
// Pure: World, the DNS zones and the reported verdicts in, a table out.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "dns/zone.h"
#include "xds/proxy_health.h"
#include "xds/world.h"

namespace meshd::xds {

struct Diagnosis {
  std::string caller;      // mesh/<m>/virtualGateway/<g> or .../virtualNode/<n>
  std::string target;      // the virtual node reached
  std::string preference;  // the target's effective preference ("none" if unset)
  std::string discovery;   // "dns <hostname> V6_ONLY" or "cloudmap <ns>/<svc>"
  std::string address;     // what the caller connects to ("" when none)
  std::string sidecarBind; // 0.0.0.0 or ::
  std::string appAddress;  // 127.0.0.1 or ::1
  // "ok", "service discovery", "connection", "application" (the caller's health check of the
  // target fails) or "unknown" (a name meshd's DNS does not serve).
  std::string outcome;
  // The caller's health-check verdict on the target: "passing", "failing", "pending", or "" when
  // there is none to read (no health check, or the caller's proxy did not report).
  std::string health;
  std::vector<std::string> reasons;

  nlohmann::json toJson() const;
};

// Reported verdicts by caller id (mesh/<m>/virtualGateway/<g>, ...).
using CallerHealth = std::map<std::string, ClusterHealth>;

// Every (caller, target) pair in `mesh`, or only those of `caller` (a gateway or node name) if set.
std::vector<Diagnosis> diagnose(const World& world, const dns::ZoneSet& zones, const std::string& mesh,
                                const std::string& caller = "", const CallerHealth& health = {});

}  // namespace meshd::xds
