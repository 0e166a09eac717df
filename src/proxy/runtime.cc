#include "proxy/runtime.h"

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>
#include <google/protobuf/struct.pb.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "proxy/stats.h"

namespace meshd::proxy {
namespace {

using RuntimeLayerProto = envoy::config::bootstrap::v3::RuntimeLayer;
namespace fs = std::filesystem;

void setNumber(RuntimeEntry& e, double v) {
  e.number = v;
  // The bounds keep the casts defined: an int's range, and below 2^64.
  if (v > std::numeric_limits<int>::min() && v < std::numeric_limits<int>::max() && v == static_cast<int>(v)) {
    e.boolean = v != 0;
  }
  if (v >= 0 && v < 0x1p64) e.integer = static_cast<uint64_t>(v);
}

// The whole text as a decimal number, as absl::SimpleAtod reads it (blanks around allowed, a leading
// '+', no hex, whatever the C locale).
std::optional<double> parseNumber(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || std::isnan(v)) return std::nullopt;
  return v;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// A static layer's value, as Envoy's createEntry: numbers printed as absl::StrCat prints a double
// (six significant digits), booleans as true/false, a fraction struct as its DebugString.
RuntimeEntry entryFromValue(const google::protobuf::Value& v) {
  RuntimeEntry e;
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      char text[32];
      std::snprintf(text, sizeof text, "%g", v.number_value());
      e.raw = text;
      setNumber(e, v.number_value());
      break;
    }
    case google::protobuf::Value::kBoolValue:
      e.raw = v.bool_value() ? "true" : "false";
      e.boolean = v.bool_value();
      break;
    case google::protobuf::Value::kStructValue:
      e.raw = v.struct_value().DebugString();
      break;
    default:
      e.raw = v.string_value();
      if (auto n = parseNumber(e.raw)) setNumber(e, *n);
      break;
  }
  return e;
}

// Envoy's ProtoLayer: a struct's fields flattened into dotted keys, down to a value; a struct that
// is empty or a fraction (numerator, denominator) is one value. A list or null is refused.
Status walk(const google::protobuf::Value& v, const std::string& key, std::map<std::string, RuntimeEntry, std::less<>>& out) {
  switch (v.kind_case()) {
    case google::protobuf::Value::KIND_NOT_SET:
    case google::protobuf::Value::kListValue:
    case google::protobuf::Value::kNullValue:
      return badRequest("Invalid runtime entry value for " + key);
    case google::protobuf::Value::kStructValue: {
      const auto& fields = v.struct_value().fields();
      if (fields.empty() || fields.count("numerator") || fields.count("denominator")) break;  // one value
      // In key order, so that a duplicate (a.b as a field and as a path) comes out the same each time.
      std::map<std::string, const google::protobuf::Value*> sorted;
      for (const auto& [k, child] : fields) sorted.emplace(k, &child);
      for (const auto& [k, child] : sorted) {
        if (auto s = walk(*child, key + "." + k, out); !s.ok()) return s;
      }
      return okStatus();
    }
    default:
      break;
  }
  out.insert_or_assign(key, entryFromValue(v));
  return okStatus();
}

Status readStatic(const google::protobuf::Struct& s, std::map<std::string, RuntimeEntry, std::less<>>& out) {
  std::map<std::string, const google::protobuf::Value*> sorted;
  for (const auto& [k, v] : s.fields()) sorted.emplace(k, &v);
  for (const auto& [k, v] : sorted) {
    if (auto st = walk(*v, k, out); !st.ok()) return st;
  }
  return okStatus();
}

// Envoy's DiskLayer: every regular file under `dir` is a key (its path from `dir`, '/' written
// '.'), its text the value, lines starting with '#' left out and the end trimmed.
Status readDisk(const fs::path& dir, const std::string& prefix, int depth, std::map<std::string, RuntimeEntry, std::less<>>& out) {
  if (depth > 16) return badRequest("Walk recursion depth exceeded 16");
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) return badRequest("cannot read " + dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) {
    std::string name = entry.path().filename().string();
    std::string key = prefix.empty() ? name : prefix + "." + name;
    if (entry.is_directory(ec)) {
      if (auto s = readDisk(entry.path(), key, depth + 1, out); !s.ok()) return s;
    } else if (entry.is_regular_file(ec)) {
      std::ifstream in(entry.path());
      if (!in) return badRequest("cannot read " + entry.path().string());
      // As Envoy's: the non-empty lines; a comment left out; the line that reads as the last one
      // trimmed at its end, every other one kept with its newline.
      std::string value, line;
      std::vector<std::string> lines;
      while (std::getline(in, line)) {
        if (!line.empty()) lines.push_back(line);
      }
      for (const std::string& l : lines) {
        if (l.front() == '#') continue;
        if (l == lines.back()) {
          std::string_view end = l;
          while (!end.empty() && std::isspace(static_cast<unsigned char>(end.back()))) end.remove_suffix(1);
          value += end;
        } else {
          value += l + "\n";
        }
      }
      out.insert_or_assign(key, runtimeEntryFromText(value));
    }
  }
  return okStatus();
}

}  // namespace

RuntimeEntry runtimeEntryFromText(std::string text) {
  RuntimeEntry e;
  std::string t = trimmed(text);
  e.raw = std::move(text);
  // Envoy reads the text as YAML (yaml-cpp): its booleans in YAML 1.1's spellings, then numbers;
  // anything else stays text.
  static const std::set<std::string, std::less<>> kTrue = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::set<std::string, std::less<>> kFalse = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  if (kTrue.count(t)) {
    e.boolean = true;
  } else if (kFalse.count(t)) {
    e.boolean = false;
  } else if (auto n = parseNumber(t)) {
    setNumber(e, *n);
  }
  return e;
}

RuntimeSnapshot::RuntimeSnapshot(std::vector<RuntimeLayer> layers) : layers_(std::move(layers)) {
  for (const auto& layer : layers_) {
    for (const auto& [key, entry] : layer.values) final_.insert_or_assign(key, &entry);
  }
}

const RuntimeEntry* RuntimeSnapshot::find(std::string_view key) const {
  auto it = final_.find(key);
  return it == final_.end() ? nullptr : it->second;
}

uint64_t RuntimeSnapshot::getInteger(std::string_view key, uint64_t otherwise) const {
  const RuntimeEntry* e = find(key);
  return e && e->integer ? *e->integer : otherwise;
}

double RuntimeSnapshot::getDouble(std::string_view key, double otherwise) const {
  const RuntimeEntry* e = find(key);
  return e && e->number ? *e->number : otherwise;
}

bool RuntimeSnapshot::getBoolean(std::string_view key, bool otherwise) const {
  const RuntimeEntry* e = find(key);
  return e && e->boolean ? *e->boolean : otherwise;
}

// A layer as configured; a static layer is read once, a disk layer at each load, the admin
// layer's values are what /runtime_modify set.
struct Runtime::Source {
  RuntimeLayer layer;  // name and kind; the values of a static or admin layer
  std::string diskRoot;  // a disk layer's symlink_root
  std::string diskPath;  // and the directory read under it
};

StatusOr<std::unique_ptr<Runtime>> Runtime::make(const envoy::config::bootstrap::v3::LayeredRuntime& config,
                                                 std::string serviceCluster, RuntimeStats& stats) {
  std::vector<Source> sources;
  std::set<std::string> names;
  bool admin = false;
  for (const auto& l : config.layers()) {
    if (!names.insert(l.name()).second) return badRequest("Duplicate layer name: " + l.name());
    Source s;
    s.layer.name = l.name();
    switch (l.layer_specifier_case()) {
      case RuntimeLayerProto::kStaticLayer:
        if (auto st = readStatic(l.static_layer(), s.layer.values); !st.ok()) return st;
        break;
      case RuntimeLayerProto::kAdminLayer:
        if (admin) return badRequest("Too many admin layers specified in LayeredRuntime, at most one may be specified");
        admin = true;
        s.layer.kind = RuntimeLayer::Kind::kAdmin;
        break;
      case RuntimeLayerProto::kDiskLayer:
        s.layer.kind = RuntimeLayer::Kind::kDisk;
        s.diskRoot = l.disk_layer().symlink_root();
        s.diskPath = l.disk_layer().symlink_root() + "/" + l.disk_layer().subdirectory();
        if (l.disk_layer().append_service_cluster()) s.diskPath += "/" + serviceCluster;
        break;
      case RuntimeLayerProto::kRtdsLayer:
        // meshd serves no Runtime resources: the layer is there, empty (as Envoy's before its
        // first RTDS response).
        s.layer.kind = RuntimeLayer::Kind::kRtds;
        break;
      default:
        return badRequest("layer specifier not set");
    }
    sources.push_back(std::move(s));
  }
  std::unique_ptr<Runtime> r(new Runtime(std::move(sources), std::move(serviceCluster), stats));
  r->load();
  return r;
}

Runtime::Runtime(std::vector<Source> sources, std::string serviceCluster, RuntimeStats& stats)
    : sources_(std::move(sources)), serviceCluster_(std::move(serviceCluster)), stats_(stats) {}

Runtime::~Runtime() = default;

std::vector<std::string> Runtime::diskRoots() const {
  std::vector<std::string> roots;
  for (const auto& s : sources_) {
    if (s.layer.kind == RuntimeLayer::Kind::kDisk) roots.push_back(s.diskRoot);
  }
  return roots;
}

// As Envoy's createNewSnapshot: a disk layer whose directory is missing is left out; one that
// cannot be read is left out and counts a load error.
void Runtime::load() {
  std::vector<RuntimeLayer> layers;
  uint32_t diskLayers = 0, errorLayers = 0;
  bool adminActive = false;
  for (const auto& s : sources_) {
    if (s.layer.kind == RuntimeLayer::Kind::kDisk) {
      std::error_code ec;
      if (!fs::is_directory(s.diskPath, ec)) continue;
      RuntimeLayer layer{s.layer.name, s.layer.kind, {}};
      if (readDisk(s.diskPath, "", 1, layer.values).ok()) {
        layers.push_back(std::move(layer));
        ++diskLayers;
      } else {
        ++errorLayers;
      }
      continue;
    }
    if (s.layer.kind == RuntimeLayer::Kind::kAdmin) adminActive = !s.layer.values.empty();
    layers.push_back(s.layer);
  }
  stats_.num_layers = layers.size();
  (errorLayers == 0 ? stats_.load_success : stats_.load_error)++;
  (diskLayers > 1 ? stats_.override_dir_exists : stats_.override_dir_not_exists)++;
  stats_.admin_overrides_active = adminActive ? 1 : 0;
  auto snapshot = std::make_shared<RuntimeSnapshot>(std::move(layers));
  stats_.num_keys = snapshot->numKeys();
  snapshot_ = std::move(snapshot);
  if (onChange_) onChange_(snapshot_);
}

Status Runtime::merge(const std::vector<std::pair<std::string, std::string>>& values) {
  Source* admin = nullptr;
  for (auto& s : sources_) {
    if (s.layer.kind == RuntimeLayer::Kind::kAdmin) admin = &s;
  }
  if (!admin) return badRequest("No admin layer specified");
  for (const auto& [key, value] : values) {
    if (value.empty()) {
      admin->layer.values.erase(key);
    } else {
      admin->layer.values.insert_or_assign(key, runtimeEntryFromText(value));
    }
  }
  load();
  return okStatus();
}

std::string runtimeJson(const RuntimeSnapshot& snapshot) {
  // Envoy's handler prints a Struct with protobuf's JSON printer (pretty: one space a level), whose
  // current versions write map keys sorted; nlohmann's map does the same.
  nlohmann::json layers = nlohmann::json::array();
  std::set<std::string_view> keys;
  for (const auto& layer : snapshot.layers()) {
    layers.push_back(layer.name);
    for (const auto& [key, entry] : layer.values) keys.insert(key);
  }
  nlohmann::json entries = nlohmann::json::object();
  for (std::string_view key : keys) {
    nlohmann::json values = nlohmann::json::array();
    std::string finalValue;
    for (const auto& layer : snapshot.layers()) {
      auto it = layer.values.find(key);
      std::string value = it == layer.values.end() ? "" : it->second.raw;
      if (!value.empty()) finalValue = value;
      values.push_back(std::move(value));
    }
    entries[std::string(key)] = {{"final_value", finalValue}, {"layer_values", std::move(values)}};
  }
  // A value that is not UTF-8 (from /runtime_modify or a file) is shown with U+FFFD, not refused.
  return nlohmann::json{{"entries", std::move(entries)}, {"layers", std::move(layers)}}.dump(
             1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace meshd::proxy
