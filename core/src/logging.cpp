#include "buildd/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <vector>

#include "buildd/error.hpp"

namespace buildd {
namespace {

struct LogState {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  spdlog::level::level_enum level = spdlog::level::info;
};

LogState& state() {
  static LogState* s = new LogState;  // never destroyed: loggers outlive static destructors
  return *s;
}

// UTC with its zone, as the pages and the API print times.
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v";
constexpr auto kPatternTime = spdlog::pattern_time_type::utc;

}  // namespace

void set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw Error(ErrorCategory::kUsage, "unknown log level '" + level +
                                           "' (trace, debug, info, warn, error, critical, off)");
  std::lock_guard lock(state().mutex);
  state().level = parsed;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
}

void set_stderr_log_level(const std::string& level) {
  std::lock_guard lock(state().mutex);
  state().sinks.front()->set_level(spdlog::level::from_str(level));
}

void log_to_file(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(kPattern, kPatternTime));
  std::lock_guard lock(state().mutex);
  state().sinks.push_back(sink);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->sinks().push_back(sink); });
}

std::shared_ptr<spdlog::logger> logger(const std::string& subsystem) {
  if (auto existing = spdlog::get(subsystem)) return existing;
  std::lock_guard lock(state().mutex);
  if (auto existing = spdlog::get(subsystem)) return existing;
  auto l = std::make_shared<spdlog::logger>(subsystem, state().sinks.begin(), state().sinks.end());
  l->set_pattern(kPattern, kPatternTime);
  l->set_level(state().level);
  // Every line reaches the file at once: a killed master keeps its last words.
  l->flush_on(spdlog::level::trace);
  spdlog::register_logger(l);
  return l;
}

}  // namespace buildd
