// The layered runtime as Envoy's: how layers are read and checked, which value wins, how values
// read as numbers and booleans, the admin layer, disk layers, and /runtime's JSON.
#include "proxy/runtime.h"

#include <envoy/config/bootstrap/v3/bootstrap.pb.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "proxy/stats.h"

namespace meshd::proxy {
namespace {

envoy::config::bootstrap::v3::LayeredRuntime layered(const std::string& text) {
  envoy::config::bootstrap::v3::LayeredRuntime l;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &l)) << text;
  return l;
}

// A static layer's struct, flattened into dotted keys, each value printed as Envoy prints it.
constexpr const char* kStatic = R"(
  layers { name: "base" static_layer {
    fields { key: "upstream" value { struct_value {
      fields { key: "healthy_panic_threshold" value { number_value: 35.7 } }
      fields { key: "use_http2" value { bool_value: true } } } } }
    fields { key: "big" value { number_value: 1000000 } }
    fields { key: "name" value { string_value: "12" } }
    fields { key: "text" value { string_value: "true" } }
    fields { key: "fraction" value { struct_value { fields { key: "numerator" value { number_value: 5 } } } } } } }
  layers { name: "admin" admin_layer {} })";

TEST(Runtime, StaticLayersAreFlattenedAndRead) {
  RuntimeStats stats;
  auto r = Runtime::make(layered(kStatic), "svc", stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto s = (*r)->snapshot();
  ASSERT_NE(s->find("upstream.healthy_panic_threshold"), nullptr);
  EXPECT_EQ(s->find("upstream.healthy_panic_threshold")->raw, "35.7");
  EXPECT_EQ(s->getInteger("upstream.healthy_panic_threshold", 50), 35u);  // the integer part
  EXPECT_DOUBLE_EQ(s->getDouble("upstream.healthy_panic_threshold", 0), 35.7);
  EXPECT_EQ(s->find("upstream.use_http2")->raw, "true");
  EXPECT_TRUE(s->getBoolean("upstream.use_http2", false));
  EXPECT_EQ(s->find("big")->raw, "1e+06");  // as absl::StrCat prints a double
  EXPECT_EQ(s->getInteger("big", 0), 1000000u);
  EXPECT_EQ(s->getInteger("name", 0), 12u);     // a string that reads as a number
  EXPECT_TRUE(s->getBoolean("text", true));     // a string is no boolean in a static layer...
  EXPECT_FALSE(s->getBoolean("text", false));
  EXPECT_NE(s->find("fraction")->raw.find("numerator"), std::string::npos);  // one value, not flattened
  EXPECT_EQ(s->getInteger("missing", 7), 7u);
  EXPECT_EQ(s->numKeys(), 6u);
  EXPECT_EQ(stats.num_layers.load(), 2u);
  EXPECT_EQ(stats.num_keys.load(), 6u);
  EXPECT_EQ(stats.load_success.load(), 1u);
  EXPECT_EQ(stats.admin_overrides_active.load(), 0u);
}

TEST(Runtime, RefusesWhatEnvoyRefuses) {
  RuntimeStats stats;
  auto dup = Runtime::make(layered(R"(layers { name: "a" static_layer {} } layers { name: "a" admin_layer {} })"), "", stats);
  EXPECT_EQ(dup.status().message(), "Duplicate layer name: a");
  auto admins = Runtime::make(layered(R"(layers { name: "a" admin_layer {} } layers { name: "b" admin_layer {} })"), "", stats);
  EXPECT_EQ(admins.status().message(), "Too many admin layers specified in LayeredRuntime, at most one may be specified");
  auto list = Runtime::make(layered(R"(layers { name: "a" static_layer { fields { key: "x" value { struct_value {
      fields { key: "y" value { list_value {} } } } } } } })"), "", stats);
  EXPECT_EQ(list.status().message(), "Invalid runtime entry value for x.y");
  auto none = Runtime::make(layered(R"(layers { name: "a" })"), "", stats);
  EXPECT_EQ(none.status().message(), "layer specifier not set");
}

TEST(Runtime, TheAdminLayerOverridesAndAnEmptyValueRemoves) {
  RuntimeStats stats;
  auto r = std::move(*Runtime::make(layered(kStatic), "svc", stats));
  RuntimeSnapshotPtr seen;
  r->onChange([&](RuntimeSnapshotPtr s) { seen = std::move(s); });
  auto before = r->snapshot();
  ASSERT_TRUE(r->merge({{"upstream.healthy_panic_threshold", "0"}, {"flag", "False"}, {"n", "-3"}}).ok());
  ASSERT_EQ(seen, r->snapshot());
  EXPECT_EQ(seen->getInteger("upstream.healthy_panic_threshold", 50), 0u);
  EXPECT_FALSE(seen->getBoolean("flag", true));  // YAML's booleans, as Envoy reads an admin value
  EXPECT_EQ(seen->getInteger("n", 9), 9u);       // a negative number is no integer
  EXPECT_DOUBLE_EQ(seen->getDouble("n", 0), -3);
  EXPECT_EQ(before->getInteger("upstream.healthy_panic_threshold", 50), 35u);  // a snapshot is a value
  EXPECT_EQ(stats.admin_overrides_active.load(), 1u);
  ASSERT_TRUE(r->merge({{"upstream.healthy_panic_threshold", ""}, {"flag", ""}, {"n", ""}}).ok());
  EXPECT_EQ(r->snapshot()->getInteger("upstream.healthy_panic_threshold", 50), 35u);
  EXPECT_EQ(stats.admin_overrides_active.load(), 0u);
  EXPECT_EQ(stats.load_success.load(), 3u);

  RuntimeStats noAdminStats;
  auto noAdmin = std::move(*Runtime::make(layered(R"(layers { name: "base" static_layer {} })"), "", noAdminStats));
  EXPECT_EQ(noAdmin->merge({{"a", "b"}}).message(), "No admin layer specified");
  EXPECT_EQ(noAdmin->snapshot()->numKeys(), 0u);
  EXPECT_EQ(noAdminStats.load_success.load(), 1u);
}

// Admin and disk values read as Envoy reads YAML: YAML 1.1's booleans, decimal numbers (no hex),
// the rest text; text that is not UTF-8 still shows in /runtime.
TEST(Runtime, TextValuesReadAsEnvoysYaml) {
  for (const char* t : {"yes", "On", "TRUE", "y"}) EXPECT_EQ(runtimeEntryFromText(t).boolean, true) << t;
  for (const char* f : {"no", "OFF", "false", "N"}) EXPECT_EQ(runtimeEntryFromText(f).boolean, false) << f;
  EXPECT_EQ(runtimeEntryFromText(" 42 ").integer, 42u);
  EXPECT_EQ(runtimeEntryFromText("+7.5").integer, 7u);
  EXPECT_FALSE(runtimeEntryFromText("0x10").number.has_value());
  EXPECT_FALSE(runtimeEntryFromText("2e19").integer.has_value());  // past 2^64: no integer
  EXPECT_FALSE(runtimeEntryFromText("-3e9").boolean.has_value());  // past an int: no boolean
  EXPECT_EQ(runtimeEntryFromText("abc").raw, "abc");

  RuntimeStats stats;
  auto r = std::move(*Runtime::make(layered(R"(layers { name: "admin" admin_layer {} })"), "", stats));
  ASSERT_TRUE(r->merge({{"bad", "\xff\xfe"}}).ok());
  std::string text = runtimeJson(*r->snapshot());
  EXPECT_EQ(nlohmann::json::parse(text)["entries"]["bad"]["final_value"], "\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
}

TEST(Runtime, DiskLayersReadTheirDirectory) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("meshd-runtime-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "current" / "svc" / "outlier_detection");
  std::ofstream(root / "current" / "svc" / "outlier_detection" / "consecutive_5xx") << "# placeholder\n7\n";
  std::ofstream(root / "current" / "svc" / "note") << "two\nlines  \n";
  std::ofstream(root / "current" / "svc" / "commented") << "7\n\n#c\n";  // Envoy: "7\n" (the comment was the last line)
  RuntimeStats stats;
  auto r = Runtime::make(layered(R"(
      layers { name: "disk" disk_layer { symlink_root: ")" + root.string() + R"(" subdirectory: "current" append_service_cluster: true } }
      layers { name: "missing" disk_layer { symlink_root: ")" + (root / "nowhere").string() + R"(" } })"),
                         "svc", stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto s = (*r)->snapshot();
  EXPECT_EQ(s->getInteger("outlier_detection.consecutive_5xx", 5), 7u);
  EXPECT_EQ(s->find("note")->raw, "two\nlines");
  EXPECT_EQ(s->find("commented")->raw, "7\n");
  ASSERT_EQ(s->layers().size(), 1u);  // a missing directory: no layer, as Envoy's
  EXPECT_EQ(stats.num_layers.load(), 1u);
  EXPECT_EQ(stats.override_dir_not_exists.load(), 1u);
  fs::remove_all(root);
}

TEST(Runtime, JsonListsLayersAndEachKeysValues) {
  RuntimeStats stats;
  auto r = std::move(*Runtime::make(layered(R"(
      layers { name: "base" static_layer { fields { key: "a" value { number_value: 1 } } fields { key: "b" value { string_value: "x" } } } }
      layers { name: "admin" admin_layer {} })"),
                                    "", stats));
  ASSERT_TRUE(r->merge({{"a", "2"}}).ok());
  std::string text = runtimeJson(*r->snapshot());
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json::parse(R"({
    "entries": {"a": {"final_value": "2", "layer_values": ["1", "2"]}, "b": {"final_value": "x", "layer_values": ["x", ""]}},
    "layers": ["base", "admin"]})"));
  // Pretty, one space a level, keys sorted.
  EXPECT_TRUE(text.starts_with("{\n \"entries\": {\n  \"a\": {\n   \"final_value\": \"2\",\n   \"layer_values\": [\n    \"1\",")) << text;
  EXPECT_EQ(nlohmann::json::parse(runtimeJson(RuntimeSnapshot())),
            nlohmann::json::parse(R"({"entries": {}, "layers": []})"));
}

}  // namespace
}  // namespace meshd::proxy
