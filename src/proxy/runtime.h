#pragma once
// Envoy's layered runtime: string values by key, in the layers the bootstrap's layered_runtime
// lists (static layers, disk layers read from a directory, one admin layer that POST
// /runtime_modify changes), a later layer's value winning. What reads a key falls back to its
// configuration when the runtime has none, so an operator can override e.g. a cluster's
// upstream.healthy_panic_threshold or outlier_detection.* while the proxy runs.
//
// A RuntimeSnapshot is a plain value; Runtime (main thread) makes a new one at each change.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace envoy::config::bootstrap::v3 {
class LayeredRuntime;
}

namespace meshd::proxy {

struct RuntimeStats;

// One key's value as Envoy keeps it: the text, and what it reads as.
struct RuntimeEntry {
  std::string raw;
  std::optional<double> number;
  std::optional<uint64_t> integer;  // a number from 0 up, its integer part
  std::optional<bool> boolean;      // true/false, or an integral number (not 0: true)
};

// A static layer's value (a google.protobuf.Value), or a text from a disk file or /runtime_modify,
// read as Envoy reads YAML: true/false, a number, else the text.
RuntimeEntry runtimeEntryFromText(std::string text);

struct RuntimeLayer {
  enum class Kind { kStatic, kDisk, kAdmin, kRtds };
  std::string name;
  Kind kind = Kind::kStatic;
  std::map<std::string, RuntimeEntry, std::less<>> values;
};

class RuntimeSnapshot {
 public:
  RuntimeSnapshot() = default;
  explicit RuntimeSnapshot(std::vector<RuntimeLayer> layers);
  // final_ points into layers_: a copy would point into the original.
  RuntimeSnapshot(const RuntimeSnapshot&) = delete;
  RuntimeSnapshot& operator=(const RuntimeSnapshot&) = delete;

  const std::vector<RuntimeLayer>& layers() const { return layers_; }
  // The final value: the last layer's that has the key.
  const RuntimeEntry* find(std::string_view key) const;
  // As Envoy's Snapshot: a value that does not read as the kind asked for gives `otherwise`.
  uint64_t getInteger(std::string_view key, uint64_t otherwise) const;
  double getDouble(std::string_view key, double otherwise) const;
  bool getBoolean(std::string_view key, bool otherwise) const;
  size_t numKeys() const { return final_.size(); }

 private:
  std::vector<RuntimeLayer> layers_;
  std::map<std::string, const RuntimeEntry*, std::less<>> final_;
};
using RuntimeSnapshotPtr = std::shared_ptr<const RuntimeSnapshot>;

class Runtime {
 public:
  // Checks the layers as Envoy does (unique names, at most one admin layer, static values that
  // are not lists or null) and reads them; BadRequest with Envoy's text otherwise.
  // `serviceCluster` is the node's cluster, for disk layers with append_service_cluster.
  static StatusOr<std::unique_ptr<Runtime>> make(const envoy::config::bootstrap::v3::LayeredRuntime& config,
                                                 std::string serviceCluster, RuntimeStats& stats);
  ~Runtime();

  RuntimeSnapshotPtr snapshot() const { return snapshot_; }
  // POST /runtime_modify: sets keys of the admin layer; an empty value removes the key. Without an
  // admin layer, the error "No admin layer specified" and nothing changes.
  Status merge(const std::vector<std::pair<std::string, std::string>>& values);
  // Called on the main thread with each new snapshot.
  void onChange(std::function<void(RuntimeSnapshotPtr)> f) { onChange_ = std::move(f); }
  // The disk layers' symlink_roots: moving something onto one (swapping the symlink) calls for a
  // reload, as Envoy watches them.
  std::vector<std::string> diskRoots() const;
  // Reads the disk layers again and makes a new snapshot.
  void reload() { load(); }

 private:
  struct Source;
  Runtime(std::vector<Source> sources, std::string serviceCluster, RuntimeStats& stats);
  void load();

  std::vector<Source> sources_;
  std::string serviceCluster_;
  RuntimeStats& stats_;
  RuntimeSnapshotPtr snapshot_ = std::make_shared<RuntimeSnapshot>();
  std::function<void(RuntimeSnapshotPtr)> onChange_;
};

// GET /runtime's body: Envoy's JSON of the layers' names and each key's final and per-layer values.
std::string runtimeJson(const RuntimeSnapshot& snapshot);

}  // namespace meshd::proxy
