#include "proxy/loggers.h"

#include <array>
#include <memory>
#include <string>

namespace meshd::proxy {

namespace {

constexpr std::array<std::string_view, 12> kNames = {"admin", "config", "conn_handler", "connection", "dns", "hc",
                                                      "http",  "http2",  "main",         "pool",       "router", "upstream"};

struct Registry {
  std::array<std::shared_ptr<spdlog::logger>, kNames.size()> owned;
  std::array<spdlog::logger*, kNames.size()> loggers{};

  Registry() {
    auto base = spdlog::default_logger();
    for (size_t i = 0; i < kNames.size(); ++i) {
      owned[i] = std::make_shared<spdlog::logger>(std::string(kNames[i]), base->sinks().begin(), base->sinks().end());
      owned[i]->set_level(base->level());
      owned[i]->flush_on(base->flush_level());
      loggers[i] = owned[i].get();
    }
  }
};

// Made at first use, after common/log.h's init has set the default logger up.
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

spdlog::logger& logger(Log id) { return *registry().loggers[static_cast<size_t>(id)]; }

std::span<spdlog::logger* const> allLoggers() { return registry().loggers; }

std::optional<spdlog::level::level_enum> levelNamed(std::string_view name) {
  for (int i = spdlog::level::trace; i < spdlog::level::n_levels; ++i) {
    auto level = static_cast<spdlog::level::level_enum>(i);
    auto text = spdlog::level::to_string_view(level);
    if (std::string_view(text.data(), text.size()) == name) return level;
  }
  return std::nullopt;
}

void setAllLevels(spdlog::level::level_enum level) {
  for (auto* l : allLoggers()) l->set_level(level);
  spdlog::default_logger()->set_level(level);
}

}  // namespace meshd::proxy
