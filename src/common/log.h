#pragma once
// Structured, quiet-by-default logging: one logfmt line per event on stderr.

#include <spdlog/spdlog.h>

#include <string>

namespace meshd::log {

// Sets the level by name (trace, debug, info, warn, error, off) and the line format.
void init(const std::string& level);

}  // namespace meshd::log
