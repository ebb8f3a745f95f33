#pragma once

// Logging through spdlog: one logger per subsystem ("master", "scan",
// "dispatch", "store", "transport", "archive", "http", "cli"), all writing to
// the same sinks with timestamps. Messages name the builder and the build.
// The daemon's stdout stays quiet unless asked: by default logs go to stderr
// at "info"; `--log-level` changes it.

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "buildd/export.hpp"

namespace buildd {

// Sets the level of every logger ("trace", "debug", "info", "warn", "error",
// "critical", "off"). Throws Error(kUsage) for an unknown level.
BUILDD_API void set_log_level(const std::string& level);
// Raises the level of the stderr sink only (the demo keeps the terminal for
// its progress display while its log file gets everything).
BUILDD_API void set_stderr_log_level(const std::string& level);
// Adds a file sink (in addition to stderr).
BUILDD_API void log_to_file(const std::string& path);
// The named logger, created on first use with the shared sinks.
BUILDD_API std::shared_ptr<spdlog::logger> logger(const std::string& subsystem);

}  // namespace buildd
