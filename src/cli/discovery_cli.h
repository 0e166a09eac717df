#pragma once
// Registers meshctl's registry subcommands: namespace, service, instance and dns.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "cli/client.h"

namespace meshd::cli {

struct CliContext {
  std::function<StatusOr<Client>()> client;  // connects lazily, after flags are parsed
  const std::string* output;                 // "table" or "json"
  int exitCode = 0;
};

void addDiscoveryCommands(CLI::App& app, CliContext& ctx);

}  // namespace meshd::cli
