#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace meshd::log {

void init(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("meshd");
  // logfmt-style: time, level, then the message's own key=value pairs.
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace meshd::log
