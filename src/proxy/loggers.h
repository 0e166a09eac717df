#pragma once
// Envoy's named loggers, the ones its admin /logging lists and changes (the App Mesh agent's
// /enableLogging posts there). Each is an spdlog logger that writes through the process's default
// logger's sinks, so the line format stays common/log.h's; a component logs to its own:
//   logger(Log::kConfig).warn("msg=\"xDS update rejected\" ...");
// The levels are atomics: the admin sets them on the main thread while workers log.

#include <spdlog/spdlog.h>

#include <optional>
#include <span>
#include <string_view>

namespace meshd::proxy {

// In Envoy's order (its ALL_LOGGER_IDS), the subset meshproxy has a counterpart for.
enum class Log { kAdmin, kConfig, kConnHandler, kConnection, kDns, kHc, kHttp, kHttp2, kMain, kPool, kRouter, kUpstream };

spdlog::logger& logger(Log id);

// Every named logger, in Envoy's order.
std::span<spdlog::logger* const> allLoggers();

// Envoy's level names: trace, debug, info, warning, error, critical, off ("warn" is not one).
std::optional<spdlog::level::level_enum> levelNamed(std::string_view name);

// Every named logger's level, and the default logger's (what logs outside them).
void setAllLevels(spdlog::level::level_enum level);

}  // namespace meshd::proxy
