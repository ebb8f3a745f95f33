#pragma once

// Logging through spdlog: one logger per subsystem ("master", "scan",
// "dispatch", "store", "transport", "archive", "http", "cli"), all writing to
// the same sinks with timestamps. Messages name the builder and the build.
// The daemon's stdout stays quiet unless asked: by default logs go to stderr
// at "info"; `--log-level` changes it. Every line is flushed as it is written
// (a killed master keeps its last words), with a UTC time and its zone.
// Threading: every function may be called from any thread.

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
// "text" (the default): `2026-11-30T12:03:04.123Z info  [scan] message`;
// "json": one object per line, {"time","level","logger","message"}, for log
// collectors. Applies to every sink. Throws Error(kUsage) for another value.
BUILDD_API void set_log_format(const std::string& format);
// Adds a file sink (in addition to stderr), appending. Throws Error(kConfig)
// when the file cannot be opened.
BUILDD_API void log_to_file(const std::string& path);
// Closes and reopens every log file by name (SIGHUP after logrotate moved
// them). A file that cannot be reopened is reported on stderr and keeps its
// old descriptor.
BUILDD_API void reopen_log_files();
// The named logger, created on first use with the shared sinks.
BUILDD_API std::shared_ptr<spdlog::logger> logger(const std::string& subsystem);

}  // namespace buildd
